/**
 * "Kaizen: Set API Key" and "Kaizen: Clear API Key": provider keys in VS Code's
 * SecretStorage, handed to the server process's environment when it starts (core/secrets.ts).
 */
import * as vscode from 'vscode';
import { KEY_PROVIDERS, secretName, validateKey } from './core/secrets';

export class ApiKeys {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  /** provider -> key, for every provider with a stored key. */
  async stored(): Promise<Map<string, string>> {
    // all at once: in a browser (code-server, vscode.dev) each read is a round trip
    const values = await Promise.all(KEY_PROVIDERS.map(({ provider }) => this.secrets.get(secretName(provider))));
    const keys = new Map<string, string>();
    KEY_PROVIDERS.forEach(({ provider }, i) => {
      const key = values[i];
      if (key) keys.set(provider, key);
    });
    return keys;
  }

  /** Asks for a provider and its key; true when a key was stored. */
  async set(): Promise<boolean> {
    const stored = await this.stored();
    const picked = await vscode.window.showQuickPick(
      KEY_PROVIDERS.map((p) => ({
        label: p.label,
        description: stored.has(p.provider) ? 'key stored' : '',
        detail: `Given to the server as ${p.envVar}`,
        p,
      })),
      { title: 'Kaizen: Set API Key', placeHolder: 'Which provider is the key for?' },
    );
    if (!picked) return false;
    const value = await vscode.window.showInputBox({
      title: `Kaizen: ${picked.p.label} API Key`,
      prompt: 'Stored in VS Code\'s secret storage (the OS keychain); never in settings or logs.',
      password: true,
      ignoreFocusOut: true,
      validateInput: validateKey,
    });
    if (value === undefined || validateKey(value) !== null) return false;
    await this.secrets.store(secretName(picked.p.provider), value.trim());
    void vscode.window.showInformationMessage(`Kaizen: the ${picked.p.label} key is stored; the server restarts to use it.`);
    return true;
  }

  /** Removes one stored key (or says there is none); true when one was removed. */
  async clear(): Promise<boolean> {
    const stored = await this.stored();
    const options = KEY_PROVIDERS.filter((p) => stored.has(p.provider));
    if (options.length === 0) {
      void vscode.window.showInformationMessage('Kaizen has no stored API keys.');
      return false;
    }
    const picked = await vscode.window.showQuickPick(
      options.map((p) => ({ label: p.label, detail: p.envVar, p })),
      { title: 'Kaizen: Clear API Key' },
    );
    if (!picked) return false;
    await this.secrets.delete(secretName(picked.p.provider));
    void vscode.window.showInformationMessage(`Kaizen: the ${picked.p.label} key is removed; the server restarts without it.`);
    return true;
  }
}

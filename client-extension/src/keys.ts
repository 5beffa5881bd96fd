/**
 * "Kaizen: Set API Key" and "Kaizen: Clear API Key": provider keys in VS Code's
 * SecretStorage, handed to the server process's environment when it starts (core/secrets.ts).
 */
import * as vscode from 'vscode';
import { KEY_PROVIDERS, secretName, validateKey } from './core/secrets';

/** Which providers have a stored key (names only, never keys): a start reads just those. */
const STORED_PROVIDERS = 'kaizen.apiKeyProviders';

export class ApiKeys {
  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly state: vscode.Memento,
  ) {}

  /**
   * provider -> key, for every provider with a stored key. Reading secret storage can take
   * seconds right after a window opens (a browser round trip, a keychain unlock), and every
   * server start waits for it, so only the providers recorded as having a key are read:
   * with no stored key, nothing is.
   */
  async stored(): Promise<Map<string, string>> {
    const names = this.state.get<string[]>(STORED_PROVIDERS) ?? [];
    const providers = KEY_PROVIDERS.filter(({ provider }) => names.includes(provider));
    const values = await Promise.all(providers.map(({ provider }) => this.secrets.get(secretName(provider))));
    const keys = new Map<string, string>();
    providers.forEach(({ provider }, i) => {
      const key = values[i];
      if (key) keys.set(provider, key);
    });
    return keys;
  }

  private prefetched: Promise<Map<string, string>> | undefined;

  /** Starts reading the stored keys now (at activation), for the first server start. */
  prefetch(): void {
    this.prefetched = this.stored();
    this.prefetched.catch(() => undefined);
  }

  /** The keys for a server start: the prefetched read the first time, a fresh one after. */
  forStart(): Promise<Map<string, string>> {
    const keys = this.prefetched ?? this.stored();
    this.prefetched = undefined;
    return keys;
  }

  private async record(provider: string, present: boolean): Promise<void> {
    const names = new Set(this.state.get<string[]>(STORED_PROVIDERS) ?? []);
    if (present) names.add(provider);
    else names.delete(provider);
    await this.state.update(STORED_PROVIDERS, [...names].sort());
  }

  /** Every stored key, recorded or not (the commands list them; starts use stored()). */
  private async all(): Promise<Map<string, string>> {
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
    const stored = await this.all();
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
    await this.record(picked.p.provider, true);
    void vscode.window.showInformationMessage(`Kaizen: the ${picked.p.label} key is stored; the server restarts to use it.`);
    return true;
  }

  /** Removes one stored key (or says there is none); true when one was removed. */
  async clear(): Promise<boolean> {
    const stored = await this.all();
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
    await this.record(picked.p.provider, false);
    void vscode.window.showInformationMessage(`Kaizen: the ${picked.p.label} key is removed; the server restarts without it.`);
    return true;
  }
}

/**
 * Provider API keys kept in VS Code's SecretStorage. A key reaches the server only as an
 * environment variable of its process (litellm reads `<PROVIDER>_API_KEY`); it is never put
 * in settings, initializationOptions or any log. Pure: src/secrets.ts does the storing.
 */

export interface KeyProvider {
  provider: string;
  label: string;
  envVar: string;
}

/** The providers whose key "Kaizen: Set API Key" asks for, and litellm's variable for each. */
export const KEY_PROVIDERS: readonly KeyProvider[] = [
  { provider: 'openai', label: 'OpenAI', envVar: 'OPENAI_API_KEY' }, // also OpenAI-compatible servers
  { provider: 'anthropic', label: 'Anthropic', envVar: 'ANTHROPIC_API_KEY' },
  { provider: 'gemini', label: 'Google Gemini', envVar: 'GEMINI_API_KEY' },
  { provider: 'mistral', label: 'Mistral', envVar: 'MISTRAL_API_KEY' },
  { provider: 'groq', label: 'Groq', envVar: 'GROQ_API_KEY' },
  { provider: 'deepseek', label: 'DeepSeek', envVar: 'DEEPSEEK_API_KEY' },
  { provider: 'openrouter', label: 'OpenRouter', envVar: 'OPENROUTER_API_KEY' },
  { provider: 'xai', label: 'xAI', envVar: 'XAI_API_KEY' },
];

/** The SecretStorage key under which a provider's API key is kept. */
export function secretName(provider: string): string {
  return `kaizen.apiKey.${provider}`;
}

/** The server's environment: the editor's, plus every stored key under its variable. */
export function serverEnvironment(
  base: Readonly<Record<string, string | undefined>>,
  keys: ReadonlyMap<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) if (value !== undefined) env[name] = value;
  for (const { provider, envVar } of KEY_PROVIDERS) {
    const key = keys.get(provider);
    if (key) env[envVar] = key;
  }
  return env;
}

/** A pasted key: trimmed; empty or containing whitespace inside is refused with the reason. */
export function validateKey(value: string): string | null {
  const key = value.trim();
  if (!key) return 'Paste the key (it is stored in VS Code\'s secret storage, not in settings).';
  if (/\s/.test(key)) return 'A key has no spaces or line breaks inside.';
  return null;
}

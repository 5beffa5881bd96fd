/**
 * The client's commands and the arguments it sends to the server's commands
 * (docs/protocol.md, "Commands"). Pure: the UI in src/ui.ts only asks the questions.
 */
import { LspRange, Pipeline } from './protocol';

/** Every command the client registers; package.json contributes exactly these. */
export const CLIENT_COMMANDS = [
  'kaizen.chooseModel',
  'kaizen.createPullRequest',
  'kaizen.showMetrics',
  'kaizen.showLearnings',
  'kaizen.runAutofix',
  'kaizen.runRefactor',
  'kaizen.restartServer',
  'kaizen.installServer',
  'kaizen.chooseInterpreter',
  'kaizen.showLog',
  'kaizen.setApiKey',
  'kaizen.clearApiKey',
  'kaizen.learnings.refresh',
  'kaizen.learnings.delete',
  'kaizen.rules.refresh',
  'kaizen.rules.accept',
  'kaizen.rules.reject',
] as const;

export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

/**
 * The server advertises some of these ids itself (kaizen.createPullRequest,
 * kaizen.runAutofix, ...). The client's command wraps the server's with UI, so the
 * language client must not register the server's copy of an id the client owns.
 */
export function serverCommandsToRegister(serverCommands: readonly string[]): string[] {
  const owned: readonly string[] = CLIENT_COMMANDS;
  return serverCommands.filter((c) => !owned.includes(c));
}

export interface ProviderOption {
  label: string;
  detail: string;
  provider: string;
  /** Asks for a base URL (an OpenAI-compatible server). */
  needsApiBase: boolean;
  defaultApiBase: string | null;
  models: string[];
}

export const PROVIDERS: readonly ProviderOption[] = [
  {
    label: 'OpenAI', detail: 'api.openai.com (OPENAI_API_KEY)', provider: 'openai',
    needsApiBase: false, defaultApiBase: null,
    models: ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-4.1', 'o3-mini'],
  },
  {
    label: 'Anthropic', detail: 'Claude (ANTHROPIC_API_KEY)', provider: 'anthropic',
    needsApiBase: false, defaultApiBase: null,
    models: ['claude-3-5-haiku-latest', 'claude-3-7-sonnet-latest', 'claude-sonnet-4-0'],
  },
  {
    label: 'Google', detail: 'Gemini (GEMINI_API_KEY)', provider: 'gemini',
    needsApiBase: false, defaultApiBase: null,
    models: ['gemini-2.0-flash', 'gemini-2.5-flash', 'gemini-2.5-pro'],
  },
  {
    label: 'Ollama / local', detail: 'a model served by Ollama on this machine', provider: 'ollama',
    needsApiBase: false, defaultApiBase: null,
    models: ['qwen2.5-coder:7b', 'llama3.1:8b', 'deepseek-coder-v2:16b'],
  },
  {
    label: 'Local (bundled, offline)', detail: 'the small model Kaizen runs itself', provider: 'local',
    needsApiBase: false, defaultApiBase: null,
    models: ['default'],
  },
  {
    label: 'OpenAI-compatible', detail: 'any server speaking the OpenAI API (vLLM, LM Studio, ...)',
    provider: 'openai', needsApiBase: true, defaultApiBase: 'http://localhost:8000/v1',
    models: [],
  },
];

export type PipelineChoice = Pipeline | 'both';

export const PIPELINE_CHOICES: readonly { label: string; value: PipelineChoice }[] = [
  { label: 'Auto-fix', value: 'autofix' },
  { label: 'Refactor', value: 'refactor' },
  { label: 'Both', value: 'both' },
];

export interface ModelChoice {
  provider: string;
  model: string;
  apiBase: string | null;
}

export function pipelinesOf(choice: PipelineChoice): Pipeline[] {
  return choice === 'both' ? ['autofix', 'refactor'] : [choice];
}

export interface SetModelArg {
  pipeline: Pipeline;
  provider: string;
  model: string;
  apiBase?: string;
}

export function setModelArg(pipeline: Pipeline, choice: ModelChoice): SetModelArg {
  const arg: SetModelArg = { pipeline, provider: choice.provider, model: choice.model };
  if (choice.apiBase !== null) arg.apiBase = choice.apiBase;
  return arg;
}

/** The `kaizen.*` settings a choice writes, so the choice survives a restart. */
export function settingUpdates(choice: PipelineChoice, model: ModelChoice): [string, string][] {
  return pipelinesOf(choice).flatMap((p): [string, string][] => [
    [`${p}.provider`, model.provider],
    [`${p}.model`, model.model],
    [`${p}.apiBase`, model.apiBase ?? ''],
  ]);
}

export function validateApiBase(value: string): string | undefined {
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'Use an http(s) URL';
  } catch {
    return 'Not a URL, e.g. http://localhost:8000/v1';
  }
}

/** Either the server's argument object (from a code action) or nothing (from the palette). */
export function uriFromArg(arg: unknown): string | undefined {
  if (typeof arg === 'object' && arg !== null && 'uri' in arg && typeof arg.uri === 'string') {
    return arg.uri;
  }
  return undefined;
}

export interface PullRequestArg {
  uri: string;
  fingerprint: string;
}

export function pullRequestArgFrom(arg: unknown): PullRequestArg | undefined {
  const uri = uriFromArg(arg);
  if (uri !== undefined && typeof arg === 'object' && arg !== null && 'fingerprint' in arg
      && typeof arg.fingerprint === 'string') {
    return { uri, fingerprint: arg.fingerprint };
  }
  return undefined;
}

/** What the client needs of a diagnostic; vscode.Diagnostic fits this shape. */
export interface DiagnosticLike {
  source?: string;
  code?: string | number | { value: string | number };
  range: LspRange;
  data?: unknown;
}

/** The fingerprint of the Kaizen refactor diagnostic under the cursor, if any. */
export function refactorAt(
  diagnostics: readonly DiagnosticLike[],
  pos: { line: number; character: number },
): string | undefined {
  for (const d of diagnostics) {
    const code = typeof d.code === 'object' ? d.code.value : d.code;
    if (d.source !== 'kaizen' || typeof code !== 'string' || !code.startsWith('refactor/')) continue;
    if (!contains(d.range, pos)) continue;
    const data = d.data;
    if (typeof data === 'object' && data !== null && 'fingerprint' in data
        && typeof data.fingerprint === 'string') {
      return data.fingerprint;
    }
  }
  return undefined;
}

function contains(r: LspRange, p: { line: number; character: number }): boolean {
  const before = (a: LspRange['start'], b: LspRange['start']): boolean =>
    a.line < b.line || (a.line === b.line && a.character <= b.character);
  return before(r.start, p) && before(p, r.end);
}

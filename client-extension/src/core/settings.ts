/**
 * The `kaizen.*` settings as VS Code stores them, and their mapping to the camelCase
 * `initializationOptions` the server expects (docs/protocol.md, "Settings").
 * Pure: no `vscode` import, so it is unit-tested without an editor.
 */
import { LANGUAGES } from './launch';

/** Reads one setting by its key under `kaizen.` (e.g. `"autofix.model"`). */
export type SettingsGetter = (key: string) => unknown;

export interface PipelineModel {
  provider: string | null;
  model: string | null;
  apiBase: string | null;
}

/** Exactly the shape of docs/protocol.md "Settings" for the keys the client manages. */
export interface InitializationOptions {
  autofix: PipelineModel;
  refactor: PipelineModel;
  trigger: { onOpen: boolean; onSave: boolean; onChange: boolean; debounceMs: number };
  learnings: { tokenBudget: number };
  budget: { dailyUsd: number | null; whenExceeded: string };
  staticPrepass: { enabled: boolean; only: boolean };
  autoCreatePR: boolean;
  telemetry: boolean;
  statusNotifications: boolean;
}

export interface ClientSettings {
  /** Interpreter command line from `kaizen.interpreter`; empty means "discover". */
  interpreter: string[];
  /** Language ids sent to the server (`kaizen.languages`); empty means all it reviews. */
  languages: string[];
  serverArgs: string[];
  server: InitializationOptions;
}

/** Default of every contributed setting; a test checks package.json agrees. */
export const DEFAULTS = {
  interpreter: [] as string[],
  languages: [...LANGUAGES],
  serverArgs: [] as string[],
  'autofix.provider': '',
  'autofix.model': '',
  'autofix.apiBase': '',
  'refactor.provider': '',
  'refactor.model': '',
  'refactor.apiBase': '',
  'trigger.onOpen': true,
  'trigger.onSave': true,
  'trigger.onChange': false,
  'trigger.debounceMs': 800,
  'learnings.tokenBudget': 600,
  'budget.dailyUsd': null as number | null,
  'budget.whenExceeded': 'cheapest',
  autoCreatePR: false,
  'staticPrepass.enabled': true,
  'staticPrepass.only': false,
  telemetry: false,
};

export type SettingKey = keyof typeof DEFAULTS;

/** Settings whose change needs a new server process rather than didChangeConfiguration. */
export const RESTART_KEYS: readonly SettingKey[] = ['interpreter', 'serverArgs', 'languages'];

export function readSettings(get: SettingsGetter): ClientSettings {
  const bool = (key: SettingKey, fallback: boolean): boolean => {
    const v = get(key);
    return typeof v === 'boolean' ? v : fallback;
  };
  const num = (key: SettingKey, fallback: number): number => {
    const v = get(key);
    return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
  };
  const pipeline = (p: 'autofix' | 'refactor'): PipelineModel => ({
    provider: text(get(`${p}.provider`)),
    model: text(get(`${p}.model`)),
    apiBase: text(get(`${p}.apiBase`)),
  });
  const dailyUsd = get('budget.dailyUsd');
  return {
    interpreter: argv(get('interpreter')),
    languages: stringList(get('languages')),
    serverArgs: stringList(get('serverArgs')),
    server: {
      autofix: pipeline('autofix'),
      refactor: pipeline('refactor'),
      trigger: {
        onOpen: bool('trigger.onOpen', DEFAULTS['trigger.onOpen']),
        onSave: bool('trigger.onSave', DEFAULTS['trigger.onSave']),
        onChange: bool('trigger.onChange', DEFAULTS['trigger.onChange']),
        debounceMs: num('trigger.debounceMs', DEFAULTS['trigger.debounceMs']),
      },
      learnings: { tokenBudget: num('learnings.tokenBudget', DEFAULTS['learnings.tokenBudget']) },
      budget: {
        dailyUsd: typeof dailyUsd === 'number' && dailyUsd >= 0 ? dailyUsd : null,
        whenExceeded: text(get('budget.whenExceeded')) ?? DEFAULTS['budget.whenExceeded'],
      },
      staticPrepass: {
        enabled: bool('staticPrepass.enabled', DEFAULTS['staticPrepass.enabled']),
        only: bool('staticPrepass.only', DEFAULTS['staticPrepass.only']),
      },
      autoCreatePR: bool('autoCreatePR', DEFAULTS.autoCreatePR),
      telemetry: bool('telemetry', DEFAULTS.telemetry),
      statusNotifications: true,
    },
  };
}

/** A getter over a flat object keyed like the settings (`{"staticPrepass.only": true}`). */
export function getterFrom(values: Partial<Record<SettingKey, unknown>>): SettingsGetter {
  return (key) => (key in values ? values[key as SettingKey] : DEFAULTS[key as SettingKey]);
}

/** Expands `${workspaceFolder}`, `${userHome}` and a leading `~` in interpreter paths. */
export function expandVariables(parts: string[], vars: { workspaceFolder?: string; userHome: string }): string[] {
  return parts.map((part) => {
    let out = part.replace(/^~(?=$|[/\\])/, vars.userHome).replace(/\$\{userHome\}/g, vars.userHome);
    if (vars.workspaceFolder !== undefined) {
      out = out.replace(/\$\{workspaceFolder\}/g, vars.workspaceFolder);
    }
    return out;
  });
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

function argv(v: unknown): string[] {
  const single = text(v);
  return single !== null ? [single] : stringList(v);
}

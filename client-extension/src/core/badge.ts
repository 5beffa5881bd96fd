/**
 * The provider badge: what the status bar item says, from the server's status and the
 * `kaizen/status` and `kaizen/alert` notifications. Pure; src/statusBar.ts only paints it.
 */
import { AlertNotification, ModelInUse, RunningEntry, Status, StatusNotification } from './protocol';

/** `not-installed`: the chosen Python has no (recent enough) Kaizen; `installing`: the
 * private environment is being made. */
export type ServerState = 'starting' | 'running' | 'stopped' | 'failed' | 'not-installed' | 'installing';

export interface BadgeState {
  server: ServerState;
  status: Status | null;
  /** Runs in progress, keyed by `${pipeline} ${uri}`. */
  running: ReadonlyMap<string, StatusNotification | RunningEntry>;
  /** Open degradation alerts (`kaizen/alert`), keyed by `${model} ${taskType}`. */
  alerts?: ReadonlyMap<string, AlertNotification>;
  /** The last finished run's predicted and actual cost (from its `idle` notification). */
  lastCost?: { predicted: number; actual: number | null };
}

export const INITIAL_BADGE: BadgeState = { server: 'starting', status: null, running: new Map() };

const runKey = (e: RunningEntry): string => `${e.pipeline} ${e.uri}`;

export function withStatus(state: BadgeState, status: Status): BadgeState {
  return { ...state, status, running: new Map(status.running.map((e) => [runKey(e), e])) };
}

/** Phases that end a run: `idle` (docs/protocol.md) and the server's final `done`. */
const ENDED = new Set(['idle', 'done']);

/** An ending phase removes the run; any other phase starts or advances one. */
export function withNotification(state: BadgeState, note: StatusNotification): BadgeState {
  const running = new Map(state.running);
  if (ENDED.has(note.phase)) running.delete(runKey(note));
  else running.set(runKey(note), note);
  if (typeof note.predictedCostUsd === 'number') {
    return { ...state, running, lastCost: { predicted: note.predictedCostUsd, actual: note.costUsd ?? null } };
  }
  return { ...state, running };
}

/** A raised alert is shown until the same model and task is cleared. */
export function withAlert(state: BadgeState, alert: AlertNotification): BadgeState {
  const alerts = new Map(state.alerts ?? []);
  const key = `${alert.model} ${alert.taskType}`;
  if (alert.kind === 'cleared') alerts.delete(key);
  else alerts.set(key, alert);
  return { ...state, alerts };
}

export function modelLabel(m: { provider: string | null; model: string | null } | undefined): string {
  if (!m || (!m.provider && !m.model)) return 'auto';
  // The server names models as litellm does ("openai/gpt-4o"): don't repeat the provider.
  if (m.provider && m.model?.startsWith(`${m.provider}/`)) return m.model;
  return [m.provider, m.model].filter(Boolean).join('/');
}

export interface BadgeView {
  text: string;
  tooltip: string;
  /** What a click runs: the action that matches what the badge says. */
  command: string;
}

/** The badge while there is no running server: what is wrong and what a click does about it. */
const NOT_RUNNING: Record<Exclude<ServerState, 'running'>, BadgeView> = {
  starting: { text: '$(loading~spin) Kaizen: starting', tooltip: 'The Kaizen server is starting. Click to see its log.', command: 'kaizen.showLog' },
  installing: { text: '$(loading~spin) Kaizen: installing server', tooltip: 'Kaizen is installing its server in a private environment. Click to see the log.', command: 'kaizen.showLog' },
  'not-installed': { text: '$(warning) Kaizen: server not installed', tooltip: 'The chosen Python has no Kaizen server. Click to install it in a private environment.', command: 'kaizen.installServer' },
  failed: { text: '$(error) Kaizen: server failed', tooltip: 'The Kaizen server did not start or stopped. Click to see the log.', command: 'kaizen.showLog' },
  stopped: { text: '$(circle-slash) Kaizen: stopped', tooltip: 'The Kaizen server is stopped. Click to start it.', command: 'kaizen.restartServer' },
};

export function badgeView(state: BadgeState): BadgeView {
  if (state.server !== 'running') return NOT_RUNNING[state.server];
  const command = 'kaizen.chooseModel';
  const { autofix, refactor } = state.status ?? { autofix: undefined, refactor: undefined };
  const lines = [
    `Auto-fix: ${modelLabel(autofix)}${source(autofix)}`,
    `Refactor: ${modelLabel(refactor)}${source(refactor)}`,
  ];
  const runs = [...state.running.values()];
  for (const run of runs) lines.push(`${run.pipeline}: ${run.phase} — ${run.uri}`);
  const alerts = [...(state.alerts?.values() ?? [])];
  for (const alert of alerts) lines.push(`$(warning) ${alert.model} is degraded on ${alert.taskType}`);
  if (state.lastCost) {
    const actual = state.lastCost.actual === null ? '' : ` (actual $${state.lastCost.actual.toFixed(4)})`;
    lines.push(`Last run: predicted cost $${state.lastCost.predicted.toFixed(4)}${actual}`);
  }
  lines.push('Click to choose provider and model.');
  const tooltip = lines.join('\n');
  const warn = alerts.length ? `$(warning)${alerts.length > 1 ? alerts.length : ''} ` : '';

  const current = runs[runs.length - 1];
  if (current) {
    const m = 'provider' in current ? current : current.pipeline === 'refactor' ? refactor : autofix;
    const more = runs.length > 1 ? ` +${runs.length - 1}` : '';
    return { text: `${warn}$(sync~spin) Kaizen: ${current.pipeline} ${current.phase} (${modelLabel(m)})${more}`, tooltip, command };
  }
  const a = modelLabel(autofix);
  const r = modelLabel(refactor);
  return { text: `${warn}$(sparkle) Kaizen: ${a === r ? a : `${a} | ${r}`}`, tooltip, command };
}

function source(m: ModelInUse | undefined): string {
  return m?.source ? ` (${m.source})` : '';
}

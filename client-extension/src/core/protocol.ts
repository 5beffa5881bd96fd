/**
 * Types of the server's command results and notifications (docs/protocol.md), and
 * parsers that turn the untyped JSON into them. A malformed answer becomes an error or
 * a skipped item here, never a crash somewhere in the UI.
 */

export type Pipeline = 'autofix' | 'refactor';

export interface ModelInUse {
  provider: string | null;
  model: string | null;
  source: string | null;
}

export interface RunningEntry {
  uri: string;
  pipeline: string;
  phase: string;
}

export interface Status {
  autofix: ModelInUse;
  refactor: ModelInUse;
  running: RunningEntry[];
}

/** The `kaizen/status` notification. */
export interface StatusNotification extends RunningEntry {
  provider: string | null;
  model: string | null;
  /** On `idle`: what the run was predicted to cost before its calls, and did cost. */
  predictedCostUsd?: number | null;
  costUsd?: number | null;
}

/** The `kaizen/alert` notification: a model degraded on a task, or recovered. */
export interface AlertNotification {
  kind: 'raised' | 'cleared';
  model: string;
  taskType: string;
  message: string;
}

export interface LspRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

export interface RefactorItem {
  uri: string;
  fingerprint: string;
  title: string;
  range: LspRange | null;
}

export interface PullRequest {
  url: string;
  number: number | null;
  branch: string | null;
}

export interface RunResult {
  runId: string | number | null;
  findings: number;
}

export interface ModelMetrics {
  model: string;
  taskType: string;
  successRate: number;
  avgLatencyMs: number;
  avgCost: number;
  calls: number;
}

export interface Metrics {
  models: ModelMetrics[];
  spend: { todayUsd: number; budgetUsd: number | null };
  report: string | null;
}

export interface Learning {
  id: string | number;
  kind: string;
  summary: string;
  occurrences: number;
  createdAt: string | null;
}

type Json = Record<string, unknown>;

export class ProtocolError extends Error {}

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ProtocolError(`Kaizen server sent an unexpected ${what}`);
  }
  return v as Json;
}

function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) {
    throw new ProtocolError(`Kaizen server sent an unexpected ${what}`);
  }
  return v;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** Ids may be numbers or strings; the client only echoes them back unchanged. */
const id = (v: unknown): string | number | null => str(v) ?? num(v);

/** Keeps the items that parse; drops the rest. */
function each<T>(items: unknown[], parse: (v: Json) => T | null): T[] {
  return items.flatMap((v) => {
    if (typeof v !== 'object' || v === null) return [];
    const item = parse(v as Json);
    return item === null ? [] : [item];
  });
}

function modelInUse(v: unknown): ModelInUse {
  const o = typeof v === 'object' && v !== null ? (v as Json) : {};
  return { provider: str(o.provider), model: str(o.model), source: str(o.source) };
}

function runningEntry(o: Json): RunningEntry | null {
  const uri = str(o.uri);
  const pipeline = str(o.pipeline);
  const phase = str(o.phase);
  return uri && pipeline && phase ? { uri, pipeline, phase } : null;
}

export function parseStatus(v: unknown): Status {
  const o = obj(v, 'status');
  return {
    autofix: modelInUse(o.autofix),
    refactor: modelInUse(o.refactor),
    running: Array.isArray(o.running) ? each(o.running, runningEntry) : [],
  };
}

export function parseStatusNotification(v: unknown): StatusNotification | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Json;
  const entry = runningEntry(o);
  if (!entry) return null;
  const note: StatusNotification = { ...entry, provider: str(o.provider), model: str(o.model) };
  if (num(o.predictedCostUsd) !== null) {
    note.predictedCostUsd = num(o.predictedCostUsd);
    note.costUsd = num(o.costUsd);
  }
  return note;
}

export function parseAlertNotification(v: unknown): AlertNotification | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Json;
  const kind = o.kind === 'raised' || o.kind === 'cleared' ? o.kind : null;
  const model = str(o.model);
  const taskType = str(o.taskType);
  if (!kind || !model || !taskType) return null;
  return { kind, model, taskType, message: str(o.message) ?? '' };
}

function range(v: unknown): LspRange | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Json;
  const pos = (p: unknown): { line: number; character: number } | null => {
    const q = typeof p === 'object' && p !== null ? (p as Json) : {};
    const line = num(q.line);
    const character = num(q.character);
    return line === null || character === null ? null : { line, character };
  };
  const start = pos(o.start);
  const end = pos(o.end);
  return start && end ? { start, end } : null;
}

export function parseRefactors(v: unknown): RefactorItem[] {
  return each(list(v, 'refactor list'), (o) => {
    const uri = str(o.uri);
    const fingerprint = str(o.fingerprint);
    if (!uri || !fingerprint) return null;
    return { uri, fingerprint, title: str(o.title) ?? fingerprint, range: range(o.range) };
  });
}

export function parsePullRequest(v: unknown): PullRequest {
  const o = obj(v, 'pull request result');
  const url = str(o.url);
  if (!url) throw new ProtocolError('Kaizen server did not return a pull request URL');
  return { url, number: num(o.number), branch: str(o.branch) };
}

export function parseRunResult(v: unknown): RunResult {
  const o = obj(v, 'run result');
  return { runId: id(o.runId), findings: num(o.findings) ?? 0 };
}

export function parseMetrics(v: unknown): Metrics {
  const o = obj(v, 'metrics result');
  const spend = typeof o.spend === 'object' && o.spend !== null ? (o.spend as Json) : {};
  return {
    models: each(Array.isArray(o.models) ? o.models : [], (m) => {
      const model = str(m.model);
      if (!model) return null;
      return {
        model,
        taskType: str(m.taskType) ?? 'all',
        successRate: num(m.successRate) ?? 0,
        avgLatencyMs: num(m.avgLatencyMs) ?? 0,
        avgCost: num(m.avgCost) ?? 0,
        calls: num(m.calls) ?? 0,
      };
    }),
    spend: { todayUsd: num(spend.todayUsd) ?? 0, budgetUsd: num(spend.budgetUsd) },
    report: str(o.report),
  };
}

export function parseLearnings(v: unknown): Learning[] {
  return each(list(v, 'learnings list'), (o) => {
    const learningId = id(o.id);
    if (learningId === null) return null;
    return {
      id: learningId,
      kind: str(o.kind) ?? 'insight',
      summary: str(o.summary) ?? '(no summary)',
      occurrences: num(o.occurrences) ?? 1,
      createdAt: str(o.createdAt),
    };
  });
}

/**
 * Shapes `kaizen.analyzeMetrics` results into chart rows: one bar per model and task
 * type for each measure, scaled to the largest value. Pure.
 */
import { Metrics, ModelMetrics } from './protocol';

export interface Bar {
  label: string;
  value: number;
  /** The value as shown, e.g. "92%" or "$0.0012". */
  display: string;
  /** 0..1 of the chart's width. */
  fraction: number;
}

export interface Chart {
  title: string;
  bars: Bar[];
}

export interface SpendView {
  todayUsd: string;
  budgetUsd: string | null;
  /** 0..1, capped; null without a budget. */
  fraction: number | null;
  over: boolean;
}

export interface MetricsView {
  charts: Chart[];
  table: { headers: string[]; rows: string[][] };
  spend: SpendView;
  empty: boolean;
}

export const percent = (v: number): string => `${Math.round(v * 100)}%`;
export const millis = (v: number): string =>
  v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
export const usd = (v: number): string => (v === 0 ? '$0' : `$${v < 1 ? v.toPrecision(2) : v.toFixed(2)}`);
const count = (v: number): string => String(Math.round(v));

const MEASURES: readonly { title: string; pick: (m: ModelMetrics) => number; show: (v: number) => string }[] = [
  { title: 'Success rate', pick: (m) => m.successRate, show: percent },
  { title: 'Average latency', pick: (m) => m.avgLatencyMs, show: millis },
  { title: 'Average cost per call', pick: (m) => m.avgCost, show: usd },
  { title: 'Calls', pick: (m) => m.calls, show: count },
];

export const rowLabel = (m: ModelMetrics): string => `${m.model} · ${m.taskType}`;

export function metricsView(metrics: Metrics): MetricsView {
  const rows = [...metrics.models].sort(
    (a, b) => a.taskType.localeCompare(b.taskType) || b.calls - a.calls || a.model.localeCompare(b.model),
  );
  const charts = MEASURES.map(({ title, pick, show }) => {
    const max = Math.max(0, ...rows.map(pick));
    return {
      title,
      bars: rows.map((m) => {
        const value = pick(m);
        return { label: rowLabel(m), value, display: show(value), fraction: max > 0 ? Math.max(0, value) / max : 0 };
      }),
    };
  });
  const { todayUsd, budgetUsd } = metrics.spend;
  return {
    charts,
    table: {
      headers: ['Model', 'Task', 'Success', 'Latency', 'Cost / call', 'Calls'],
      rows: rows.map((m) => [m.model, m.taskType, percent(m.successRate), millis(m.avgLatencyMs), usd(m.avgCost), count(m.calls)]),
    },
    spend: {
      todayUsd: usd(todayUsd),
      budgetUsd: budgetUsd === null ? null : usd(budgetUsd),
      fraction: budgetUsd === null || budgetUsd <= 0 ? null : Math.min(1, todayUsd / budgetUsd),
      over: budgetUsd !== null && todayUsd > budgetUsd,
    },
    empty: rows.length === 0,
  };
}

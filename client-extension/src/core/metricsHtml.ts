/**
 * The metrics page: inline SVG bar charts, a table and spend against the budget. No
 * external resources; the only style and script carry the CSP nonce. Pure.
 */
import { Chart, MetricsView } from './metrics';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const LABEL_W = 320;
/** Longer labels are cut (full text in the tooltip) so they fit LABEL_W at 12px. */
const LABEL_CHARS = 46;
const BAR_W = 280;
const ROW_H = 22;

function shorten(label: string): string {
  return label.length <= LABEL_CHARS ? label : `…${label.slice(label.length - LABEL_CHARS + 1)}`;
}

export function barChartSvg(chart: Chart): string {
  const height = Math.max(1, chart.bars.length) * ROW_H;
  const rows = chart.bars.map((bar, i) => {
    const y = i * ROW_H;
    const w = Math.max(bar.fraction > 0 ? 1 : 0, Math.round(bar.fraction * BAR_W));
    return [
      `<text class="label" x="${LABEL_W - 8}" y="${y + 15}" text-anchor="end"><title>${escapeHtml(bar.label)}</title>${escapeHtml(shorten(bar.label))}</text>`,
      `<rect class="bar" x="${LABEL_W}" y="${y + 4}" width="${w}" height="${ROW_H - 8}" rx="2"/>`,
      `<text class="value" x="${LABEL_W + w + 6}" y="${y + 15}">${escapeHtml(bar.display)}</text>`,
    ].join('');
  });
  return `<svg role="img" aria-label="${escapeHtml(chart.title)}" width="${LABEL_W + BAR_W + 90}" height="${height}" xmlns="http://www.w3.org/2000/svg">${rows.join('')}</svg>`;
}

function spendHtml(view: MetricsView): string {
  const { spend } = view;
  if (spend.budgetUsd === null || spend.fraction === null) {
    return `<p>Spent today: <strong>${escapeHtml(spend.todayUsd)}</strong> (no daily budget set: <code>kaizen.budget.dailyUsd</code>)</p>`;
  }
  const w = Math.round(spend.fraction * 400);
  return `<p>Spent today: <strong>${escapeHtml(spend.todayUsd)}</strong> of ${escapeHtml(spend.budgetUsd)}${spend.over ? ' — <strong class="over">over budget</strong>' : ''}</p>
<svg role="img" aria-label="spend against budget" width="400" height="14" xmlns="http://www.w3.org/2000/svg"><rect class="track" x="0" y="0" width="400" height="14" rx="3"/><rect class="${spend.over ? 'bar over' : 'bar'}" x="0" y="0" width="${w}" height="14" rx="3"/></svg>`;
}

function tableHtml(view: MetricsView): string {
  const head = view.table.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = view.table.rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export function metricsHtml(view: MetricsView, report: string | null, nonce: string, cspSource: string): string {
  const csp = `default-src 'none'; img-src ${cspSource}; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
  const charts = view.empty
    ? '<p>No model calls recorded yet. Metrics appear after the first Kaizen runs.</p>'
    : view.charts.map((c) => `<section><h2>${escapeHtml(c.title)}</h2>${barChartSvg(c)}</section>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Kaizen Metrics</title>
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 16px; }
h2 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
svg text { fill: var(--vscode-foreground); font-size: 12px; }
.bar { fill: var(--vscode-charts-blue, #3794ff); }
.bar.over, .over { fill: var(--vscode-charts-red, #f14c4c); color: var(--vscode-charts-red, #f14c4c); }
.track { fill: var(--vscode-editorWidget-background, #8884); }
table { border-collapse: collapse; margin-top: 1em; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 4px 12px; cursor: pointer; }
pre { white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Kaizen Metrics <button id="refresh" type="button">Refresh</button></h1>
<section><h2>Spend</h2>${spendHtml(view)}</section>
${charts}
${view.empty ? '' : `<section><h2>All models</h2>${tableHtml(view)}</section>`}
${report ? `<section><h2>Report</h2><pre>${escapeHtml(report)}</pre></section>` : ''}
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
document.getElementById('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
</script>
</body>
</html>
`;
}

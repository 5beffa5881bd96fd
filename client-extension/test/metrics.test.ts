import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricsView } from '../src/core/metrics';
import { escapeHtml, metricsHtml } from '../src/core/metricsHtml';

const metrics = {
  models: [
    { model: 'openai/gpt-4o-mini', taskType: 'autofix', successRate: 0.9, avgLatencyMs: 1200, avgCost: 0.0004, calls: 40 },
    { model: 'anthropic/<b>', taskType: 'autofix', successRate: 0.6, avgLatencyMs: 600, avgCost: 0.002, calls: 10 },
  ],
  spend: { todayUsd: 1.5, budgetUsd: 1 },
  report: null,
};

test('rows become one bar per model and task in each chart', () => {
  const view = metricsView(metrics);
  assert.deepEqual(view.charts.map((c) => c.title), ['Success rate', 'Average latency', 'Average cost per call', 'Calls']);
  const success = view.charts[0];
  assert.deepEqual(success.bars.map((b) => [b.label, b.display]), [
    ['openai/gpt-4o-mini · autofix', '90%'],
    ['anthropic/<b> · autofix', '60%'],
  ]);
  assert.equal(success.bars[0].fraction, 1);
  assert.ok(Math.abs(success.bars[1].fraction - 0.6 / 0.9) < 1e-9);
  assert.deepEqual(view.table.rows[0], ['openai/gpt-4o-mini', 'autofix', '90%', '1.2 s', '$0.00040', '40']);
  assert.deepEqual(view.spend, { todayUsd: '$1.50', budgetUsd: '$1.00', fraction: 1, over: true });
});

test('no data gives an empty view without dividing by zero', () => {
  const view = metricsView({ models: [], spend: { todayUsd: 0, budgetUsd: null }, report: null });
  assert.equal(view.empty, true);
  assert.equal(view.spend.fraction, null);
  assert.equal(view.spend.todayUsd, '$0');
});

test('the page has a strict CSP, escapes server text and loads nothing external', () => {
  const html = metricsHtml(metricsView(metrics), 'report <script>', 'abc123', 'vscode-resource:');
  assert.match(html, /default-src 'none'; img-src vscode-resource:; style-src 'nonce-abc123'; script-src 'nonce-abc123';/);
  assert.ok(!html.includes('anthropic/<b>'));
  assert.ok(html.includes('anthropic/&lt;b&gt;'));
  assert.ok(html.includes('report &lt;script&gt;'));
  assert.ok(!/src="http|href="http/.test(html));
  for (const tag of html.match(/<(script|style)[^>]*>/g) ?? []) assert.match(tag, /nonce="abc123"/);
  assert.ok(!/ style="/.test(html), 'inline style attributes are blocked by the CSP');
  assert.equal((html.match(/<svg/g) ?? []).length, 5);
  assert.equal(escapeHtml(`"'&`), '&quot;&#39;&amp;');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseLearnings,
  parseMetrics,
  parsePullRequest,
  parseRefactors,
  parseStatus,
  parseStatusNotification,
  ProtocolError,
} from '../src/core/protocol';

test('status parses and tolerates missing parts', () => {
  assert.deepEqual(
    parseStatus({ autofix: { provider: 'openai', model: 'gpt-4o-mini', source: 'user' }, running: [{ uri: 'u', pipeline: 'autofix', phase: 'scan' }, { uri: 'u' }] }),
    {
      autofix: { provider: 'openai', model: 'gpt-4o-mini', source: 'user' },
      refactor: { provider: null, model: null, source: null },
      running: [{ uri: 'u', pipeline: 'autofix', phase: 'scan' }],
    },
  );
  assert.throws(() => parseStatus(null), ProtocolError);
});

test('notifications, refactors, pull requests and learnings parse', () => {
  assert.deepEqual(parseStatusNotification({ uri: 'u', pipeline: 'refactor', phase: 'pr', provider: 'p', model: 'm' }), {
    uri: 'u', pipeline: 'refactor', phase: 'pr', provider: 'p', model: 'm',
  });
  assert.equal(parseStatusNotification({ phase: 'idle' }), null);
  assert.deepEqual(parseRefactors([{ uri: 'u', fingerprint: 'f' }, { title: 'no fingerprint' }]), [
    { uri: 'u', fingerprint: 'f', title: 'f', range: null },
  ]);
  assert.deepEqual(parsePullRequest({ url: 'https://x/pull/3', number: 3, branch: 'kaizen/x' }), {
    url: 'https://x/pull/3', number: 3, branch: 'kaizen/x',
  });
  assert.throws(() => parsePullRequest({ number: 3 }), ProtocolError);
  assert.deepEqual(parseLearnings([{ id: 7, kind: 'bug_pattern', summary: 's', occurrences: 2, createdAt: 't' }]), [
    { id: 7, kind: 'bug_pattern', summary: 's', occurrences: 2, createdAt: 't' },
  ]);
});

test('metrics parse with defaults', () => {
  const m = parseMetrics({ models: [{ model: 'a', taskType: 'autofix', successRate: 0.5, avgLatencyMs: 100, avgCost: 0.001, calls: 4 }, {}], spend: { todayUsd: 0.2 } });
  assert.equal(m.models.length, 1);
  assert.deepEqual(m.spend, { todayUsd: 0.2, budgetUsd: null });
  assert.equal(m.report, null);
});

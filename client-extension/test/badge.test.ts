import assert from 'node:assert/strict';
import { test } from 'node:test';
import { badgeView, INITIAL_BADGE, modelLabel, ServerState, withAlert, withNotification, withStatus } from '../src/core/badge';
import { parseAlertNotification, parseStatusNotification } from '../src/core/protocol';

const status = {
  autofix: { provider: 'openai', model: 'gpt-4o-mini', source: 'user' },
  refactor: { provider: 'anthropic', model: 'claude-3-5-haiku-latest', source: 'router' },
  running: [],
};

test('shows the models in use once the server runs', () => {
  assert.equal(badgeView(INITIAL_BADGE).text, '$(loading~spin) Kaizen: starting');
  const view = badgeView(withStatus({ ...INITIAL_BADGE, server: 'running' }, status));
  assert.equal(view.text, '$(sparkle) Kaizen: openai/gpt-4o-mini | anthropic/claude-3-5-haiku-latest');
  assert.match(view.tooltip, /Refactor: anthropic\/claude-3-5-haiku-latest \(router\)/);
  const same = withStatus({ ...INITIAL_BADGE, server: 'running' }, { ...status, refactor: status.autofix });
  assert.equal(badgeView(same).text, '$(sparkle) Kaizen: openai/gpt-4o-mini');
});

test('shows the phase of a running pipeline until idle', () => {
  let state = withStatus({ ...INITIAL_BADGE, server: 'running' }, status);
  state = withNotification(state, { uri: 'file:///a.py', pipeline: 'autofix', phase: 'detect', provider: 'ollama', model: 'qwen' });
  assert.equal(badgeView(state).text, '$(sync~spin) Kaizen: autofix detect (ollama/qwen)');
  state = withNotification(state, { uri: 'file:///b.py', pipeline: 'refactor', phase: 'scan', provider: null, model: null });
  assert.equal(badgeView(state).text, '$(sync~spin) Kaizen: refactor scan (auto) +1');
  state = withNotification(state, { uri: 'file:///b.py', pipeline: 'refactor', phase: 'done', provider: null, model: null });
  assert.equal(badgeView(state).text, '$(sync~spin) Kaizen: autofix detect (ollama/qwen)');
  state = withNotification(state, { uri: 'file:///a.py', pipeline: 'autofix', phase: 'idle', provider: null, model: null });
  assert.match(badgeView(state).text, /^\$\(sparkle\)/);
});

test('a litellm model name that already carries its provider is shown once', () => {
  assert.equal(modelLabel({ provider: 'openai', model: 'openai/gpt-4o-mini' }), 'openai/gpt-4o-mini');
  assert.equal(modelLabel({ provider: 'ollama', model: 'llama3' }), 'ollama/llama3');
});

test('a kaizen/alert shows a warning on the badge until the model recovers', () => {
  let state = withStatus({ ...INITIAL_BADGE, server: 'running' }, status);
  const raised = parseAlertNotification({
    kind: 'raised', model: 'openai/gpt-4o-mini', taskType: 'issue_detector', message: 'degraded', signals: [],
  });
  assert.ok(raised);
  state = withAlert(state, raised);
  assert.match(badgeView(state).text, /^\$\(warning\) \$\(sparkle\)/);
  assert.match(badgeView(state).tooltip, /openai\/gpt-4o-mini is degraded on issue_detector/);
  state = withAlert(state, { ...raised, kind: 'cleared' });
  assert.match(badgeView(state).text, /^\$\(sparkle\)/);
  assert.equal(parseAlertNotification({ kind: 'weird', model: 'm', taskType: 't' }), null);
});

test('the tooltip shows the predicted cost of the last run', () => {
  let state = withStatus({ ...INITIAL_BADGE, server: 'running' }, status);
  const idle = parseStatusNotification({
    uri: 'file:///a.py', pipeline: 'autofix', phase: 'idle', provider: null, model: null,
    predictedCostUsd: 0.00123, costUsd: 0.0011,
  });
  assert.ok(idle);
  state = withNotification(state, idle);
  assert.match(badgeView(state).tooltip, /Last run: predicted cost \$0\.0012 \(actual \$0\.0011\)/);
});

test('without a running server the badge says what is wrong and a click does the matching thing', () => {
  const view = (server: ServerState) => badgeView({ ...INITIAL_BADGE, server });
  assert.deepEqual([view('not-installed').text, view('not-installed').command], ['$(warning) Kaizen: server not installed', 'kaizen.installServer']);
  assert.deepEqual([view('installing').text, view('installing').command], ['$(loading~spin) Kaizen: installing server', 'kaizen.showLog']);
  assert.deepEqual([view('failed').text, view('failed').command], ['$(error) Kaizen: server failed', 'kaizen.showLog']);
  assert.deepEqual([view('stopped').text, view('stopped').command], ['$(circle-slash) Kaizen: stopped', 'kaizen.restartServer']);
  assert.equal(badgeView(withStatus({ ...INITIAL_BADGE, server: 'running' }, status)).command, 'kaizen.chooseModel');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandVariables, getterFrom, readSettings } from '../src/core/settings';

test('defaults map to the protocol shape with statusNotifications on', () => {
  const { server, interpreter, serverArgs } = readSettings(getterFrom({}));
  assert.deepEqual(interpreter, []);
  assert.deepEqual(serverArgs, []);
  assert.deepEqual(server, {
    autofix: { provider: null, model: null, apiBase: null },
    refactor: { provider: null, model: null, apiBase: null },
    trigger: { onOpen: true, onSave: true, onChange: false, debounceMs: 800 },
    learnings: { tokenBudget: 600 },
    budget: { dailyUsd: null, whenExceeded: 'cheapest' },
    staticPrepass: { enabled: true, only: false },
    autoCreatePR: false,
    telemetry: false,
    statusNotifications: true,
  });
});

test('user values are mapped to camelCase groups', () => {
  const { server } = readSettings(getterFrom({
    'autofix.provider': 'openai',
    'autofix.model': ' gpt-4o-mini ',
    'refactor.provider': 'openai',
    'refactor.model': 'qwen',
    'refactor.apiBase': 'http://localhost:8000/v1',
    'trigger.onChange': true,
    'trigger.debounceMs': 250,
    'budget.dailyUsd': 2.5,
    'budget.whenExceeded': 'stop',
    'staticPrepass.only': true,
    autoCreatePR: true,
  }));
  assert.deepEqual(server.autofix, { provider: 'openai', model: 'gpt-4o-mini', apiBase: null });
  assert.deepEqual(server.refactor, { provider: 'openai', model: 'qwen', apiBase: 'http://localhost:8000/v1' });
  assert.equal(server.trigger.onChange, true);
  assert.equal(server.trigger.debounceMs, 250);
  assert.deepEqual(server.budget, { dailyUsd: 2.5, whenExceeded: 'stop' });
  assert.deepEqual(server.staticPrepass, { enabled: true, only: true });
  assert.equal(server.autoCreatePR, true);
});

test('values of the wrong type fall back to defaults', () => {
  const { server } = readSettings(getterFrom({
    'trigger.onOpen': 'yes',
    'trigger.debounceMs': Number.NaN,
    'budget.dailyUsd': -1,
    'autofix.model': 42,
  }));
  assert.equal(server.trigger.onOpen, true);
  assert.equal(server.trigger.debounceMs, 800);
  assert.equal(server.budget.dailyUsd, null);
  assert.equal(server.autofix.model, null);
});

test('interpreter accepts a string or a command line', () => {
  assert.deepEqual(readSettings(getterFrom({ interpreter: '/usr/bin/python3' })).interpreter, ['/usr/bin/python3']);
  assert.deepEqual(
    readSettings(getterFrom({ interpreter: ['conda', 'run', '-n', 'k', 'python', ''] })).interpreter,
    ['conda', 'run', '-n', 'k', 'python'],
  );
  assert.deepEqual(readSettings(getterFrom({ interpreter: '  ' })).interpreter, []);
});

test('variables in interpreter paths are expanded', () => {
  assert.deepEqual(
    expandVariables(['${workspaceFolder}/.venv/bin/python', '~/x', '${userHome}/y', 'a~b'], {
      workspaceFolder: '/ws',
      userHome: '/home/u',
    }),
    ['/ws/.venv/bin/python', '/home/u/x', '/home/u/y', 'a~b'],
  );
});

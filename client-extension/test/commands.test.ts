import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PROVIDERS,
  pullRequestArgFrom,
  refactorAt,
  serverCommandsToRegister,
  setModelArg,
  settingUpdates,
  uriFromArg,
  validateApiBase,
} from '../src/core/commands';

test('the providers the brief asks for are offered', () => {
  const providers = PROVIDERS.map((p) => p.provider);
  for (const p of ['openai', 'anthropic', 'gemini', 'ollama']) assert.ok(providers.includes(p), p);
  const compatible = PROVIDERS.filter((p) => p.needsApiBase);
  assert.deepEqual(compatible.map((p) => p.provider), ['openai']);
});

test('setModel arguments carry apiBase only when there is one', () => {
  assert.deepEqual(setModelArg('autofix', { provider: 'anthropic', model: 'claude', apiBase: null }), {
    pipeline: 'autofix',
    provider: 'anthropic',
    model: 'claude',
  });
  assert.deepEqual(setModelArg('refactor', { provider: 'openai', model: 'm', apiBase: 'http://h/v1' }), {
    pipeline: 'refactor',
    provider: 'openai',
    model: 'm',
    apiBase: 'http://h/v1',
  });
});

test('choosing both pipelines updates both groups of settings', () => {
  const updates = settingUpdates('both', { provider: 'gemini', model: 'gemini-2.0-flash', apiBase: null });
  assert.deepEqual(updates, [
    ['autofix.provider', 'gemini'],
    ['autofix.model', 'gemini-2.0-flash'],
    ['autofix.apiBase', ''],
    ['refactor.provider', 'gemini'],
    ['refactor.model', 'gemini-2.0-flash'],
    ['refactor.apiBase', ''],
  ]);
  assert.equal(settingUpdates('refactor', { provider: 'o', model: 'm', apiBase: null }).length, 3);
});

test('base URLs must be http(s)', () => {
  assert.equal(validateApiBase('http://localhost:8000/v1'), undefined);
  assert.equal(validateApiBase('https://example.test'), undefined);
  assert.ok(validateApiBase('localhost:8000'));
  assert.ok(validateApiBase('ftp://x'));
});

test('server commands the client owns are not registered twice', () => {
  assert.deepEqual(
    serverCommandsToRegister(['kaizen.createPullRequest', 'kaizen.dismiss', 'kaizen.runAutofix', 'kaizen.recordOutcome']),
    ['kaizen.dismiss', 'kaizen.recordOutcome'],
  );
});

test('arguments from code actions are recognised', () => {
  assert.equal(uriFromArg({ uri: 'file:///a.py' }), 'file:///a.py');
  assert.equal(uriFromArg(undefined), undefined);
  assert.equal(uriFromArg({ uri: 3 }), undefined);
  assert.deepEqual(pullRequestArgFrom({ uri: 'file:///a.py', fingerprint: 'fp' }), { uri: 'file:///a.py', fingerprint: 'fp' });
  assert.equal(pullRequestArgFrom({ uri: 'file:///a.py' }), undefined);
});

test('the refactor diagnostic under the cursor gives the fingerprint', () => {
  const range = (l1: number, c1: number, l2: number, c2: number) => ({
    start: { line: l1, character: c1 },
    end: { line: l2, character: c2 },
  });
  const diagnostics = [
    { source: 'kaizen', code: 'bug', range: range(0, 0, 9, 0), data: { fingerprint: 'bug-fp' } },
    { source: 'ruff', code: 'refactor/x', range: range(0, 0, 9, 0), data: { fingerprint: 'other' } },
    { source: 'kaizen', code: { value: 'refactor/extract-function' }, range: range(2, 4, 5, 0), data: { fingerprint: 'fp1' } },
  ];
  assert.equal(refactorAt(diagnostics, { line: 3, character: 0 }), 'fp1');
  assert.equal(refactorAt(diagnostics, { line: 2, character: 4 }), 'fp1');
  assert.equal(refactorAt(diagnostics, { line: 5, character: 1 }), undefined);
  assert.equal(refactorAt(diagnostics, { line: 1, character: 0 }), undefined);
});

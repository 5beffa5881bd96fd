import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KEY_PROVIDERS, secretName, serverEnvironment, validateKey } from '../src/core/secrets';

test('stored keys go into the server environment under litellm\'s variable names', () => {
  const env = serverEnvironment(
    { PATH: '/bin', OPENAI_API_KEY: 'from-shell', UNSET: undefined },
    new Map([['openai', 'sk-stored'], ['anthropic', 'sk-ant']]),
  );
  assert.deepEqual(env, { PATH: '/bin', OPENAI_API_KEY: 'sk-stored', ANTHROPIC_API_KEY: 'sk-ant' });
  // a provider without a stored key keeps what the shell gave
  assert.equal(serverEnvironment({ GEMINI_API_KEY: 'g' }, new Map()).GEMINI_API_KEY, 'g');
});

test('every provider has its own secret and variable', () => {
  const names = KEY_PROVIDERS.map((p) => secretName(p.provider));
  assert.equal(new Set(names).size, names.length);
  for (const p of KEY_PROVIDERS) assert.match(p.envVar, /^[A-Z]+_API_KEY$/);
});

test('pasted keys are trimmed; empty or broken ones are refused', () => {
  assert.equal(validateKey('  sk-abc \n'), null);
  assert.match(validateKey('   ') ?? '', /Paste the key/);
  assert.match(validateKey('sk-a b') ?? '', /no spaces/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchSpec, resolveInterpreter } from '../src/core/launch';
import { getterFrom, readSettings } from '../src/core/settings';

test('the setting wins and the Python extension is not asked', async () => {
  let asked = false;
  const found = await resolveInterpreter(['/opt/py'], '/private/bin/python', async () => {
    asked = true;
    return '/from/extension';
  });
  assert.deepEqual(found, { argv: ['/opt/py'], source: 'setting' });
  assert.equal(asked, false);
});

test('then the Python extension, then python3', async () => {
  assert.deepEqual(await resolveInterpreter([], undefined, async () => '/venv/bin/python'), {
    argv: ['/venv/bin/python'],
    source: 'python-extension',
  });
  assert.deepEqual(await resolveInterpreter([], undefined, async () => undefined), { argv: ['python3'], source: 'default' });
  assert.deepEqual(
    await resolveInterpreter([], undefined, () => Promise.reject(new Error('extension failed'))),
    { argv: ['python3'], source: 'default' },
  );
});

test('the private environment comes before the Python extension, which is then not asked', async () => {
  let asked = false;
  const found = await resolveInterpreter([], '/storage/server-env/bin/python', async () => {
    asked = true;
    return '/venv/bin/python';
  });
  assert.deepEqual(found, { argv: ['/storage/server-env/bin/python'], source: 'private' });
  assert.equal(asked, false);
});

test('command line is <python> -m kaizen serve plus serverArgs', () => {
  const settings = readSettings(getterFrom({ serverArgs: ['--log-level', 'debug'] }));
  const spec = launchSpec(['conda', 'run', '-n', 'k', 'python'], settings);
  assert.equal(spec.command, 'conda');
  assert.deepEqual(spec.args, ['run', '-n', 'k', 'python', '-m', 'kaizen', 'serve', '--log-level', 'debug']);
  assert.equal(spec.initializationOptions, settings.server);
  assert.equal(spec.initializationOptions.statusNotifications, true);
});

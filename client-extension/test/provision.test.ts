import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { test } from 'node:test';
import {
  compareVersions,
  explain,
  judge,
  newestWheel,
  parseProbe,
  pipFailureCause,
  pipInstallArgs,
  privateEnv,
  PROBE,
} from '../src/core/provision';

const probe = (python: [number, number, number], kaizen: string | null) => ({ python, kaizen, executable: '/py' });

test('the probe runs in a real Python and answers in one JSON line', () => {
  const done = spawnSync('python3', ['-c', PROBE], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: '' } });
  if (done.error) return; // no python3 on this machine: nothing to probe
  const parsed = parseProbe(done.stdout);
  assert.ok(parsed, done.stdout + done.stderr);
  assert.equal(parsed.python.length, 3);
  assert.ok(parsed.kaizen === null || /^\d/.test(parsed.kaizen));
});

test('a probe answer that is not the JSON line means a broken interpreter', () => {
  assert.equal(parseProbe(''), null);
  assert.equal(parseProbe('Traceback (most recent call last):'), null);
  assert.equal(parseProbe('{"python": [3, 11], "kaizen": null}'), null);
  assert.deepEqual(parseProbe('noise\n{"python": [3, 12, 1], "kaizen": "0.2.0", "executable": "/x"}\n'), {
    python: [3, 12, 1], kaizen: '0.2.0', executable: '/x',
  });
});

test('verdicts: ready, missing, outdated, Python too old', () => {
  assert.deepEqual(judge(probe([3, 11, 7], '0.1.0'), '0.1.0'), { kind: 'ready', version: '0.1.0' });
  assert.deepEqual(judge(probe([3, 11, 7], null), '0.1.0'), { kind: 'missing' });
  assert.deepEqual(judge(probe([3, 11, 7], '0.1.0'), '0.2.0'), { kind: 'outdated', found: '0.1.0', needed: '0.2.0' });
  assert.deepEqual(judge(probe([3, 9, 18], '0.1.0'), '0.1.0'), { kind: 'python-too-old', python: '3.9.18' });
  assert.deepEqual(judge(probe([2, 7, 18], null), '0.1.0'), { kind: 'python-too-old', python: '2.7.18' });
});

test('versions compare by release numbers', () => {
  assert.equal(compareVersions('0.10.0', '0.9.1'), 1);
  assert.equal(compareVersions('0.1', '0.1.0'), 0);
  assert.equal(compareVersions('0.1.0rc1', '0.1.0'), 0);
  assert.equal(compareVersions('1.0.0', '1.0.1'), -1);
});

test('each verdict is one sentence naming the interpreter', () => {
  assert.equal(explain({ kind: 'missing' }, '/usr/bin/python3'), 'Kaizen needs its server: it is not installed in /usr/bin/python3.');
  assert.match(explain({ kind: 'python-too-old', python: '3.8.10' }, 'py'), /Python 3\.10\+.*Python 3\.8\.10/);
  assert.match(explain({ kind: 'no-interpreter', detail: 'not found' }, '/nope/python'), /"\/nope\/python" could not run \(not found\)/);
  assert.match(explain({ kind: 'outdated', found: '0.1.0', needed: '0.2.0' }, 'py'), /0\.2\.0 or newer: py has 0\.1\.0/);
});

test('the private environment lives in global storage', () => {
  assert.deepEqual(privateEnv('/home/u/.vscode/globalStorage/kaizen-lsp.kaizen', 'linux'), {
    dir: '/home/u/.vscode/globalStorage/kaizen-lsp.kaizen/server-env',
    python: '/home/u/.vscode/globalStorage/kaizen-lsp.kaizen/server-env/bin/python',
  });
  assert.equal(privateEnv('C:\\s', 'win32').python, 'C:\\s\\server-env\\Scripts\\python.exe');
});

test('the newest bundled wheel is picked, other files ignored', () => {
  assert.deepEqual(
    newestWheel(['README.md', 'kaizen_lsp-0.9.0-py3-none-any.whl', 'kaizen_lsp-0.10.0-py3-none-any.whl', 'other-1.0-py3-none-any.whl']),
    { file: 'kaizen_lsp-0.10.0-py3-none-any.whl', version: '0.10.0' },
  );
  assert.equal(newestWheel([]), null);
});

test('pip installs the wheel with upgrades and never prompts; its failure is its ERROR line', () => {
  assert.deepEqual(pipInstallArgs('/w/kaizen_lsp-0.1.0-py3-none-any.whl'), [
    '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--upgrade', '/w/kaizen_lsp-0.1.0-py3-none-any.whl',
  ]);
  const output = 'Processing ./kaizen_lsp-0.1.0-py3-none-any.whl\nERROR: Could not find a version that satisfies the requirement pygls<3,>=2.0 (from kaizen-lsp) (from versions: none)\nERROR: No matching distribution found for pygls<3,>=2.0\n';
  assert.equal(pipFailureCause(output), 'No matching distribution found for pygls<3,>=2.0');
  assert.equal(pipFailureCause(''), 'pip exited with an error');
});

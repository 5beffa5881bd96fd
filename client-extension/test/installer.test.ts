/**
 * Provisioning's failure paths against a real Python and a real pip (no editor needed): a pip
 * install whose index is unreachable, a private environment whose Python is broken, no usable
 * Python at all. Each ends in one Error naming the cause. Skipped only without a python3 3.10+.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { checkPython, installServer, InstallRequest } from '../src/core/installer';
import { privateEnv } from '../src/core/provision';

const python = process.env.KAIZEN_TEST_BASE_PYTHON ?? 'python3';
const usable = spawnSync(python, ['-c', 'import sys, venv; sys.exit(sys.version_info < (3, 10))']).status === 0;
const skip = usable ? false : `${python} is not a Python 3.10+ with venv`;

/** A real (tiny) wheel named like the server's, depending on what only an index can supply. */
function makeWheel(dir: string): string {
  const file = path.join(dir, 'kaizen_lsp-0.0.1-py3-none-any.whl');
  const script = [
    'import sys, zipfile',
    'info = "kaizen_lsp-0.0.1.dist-info/"',
    'with zipfile.ZipFile(sys.argv[1], "w") as z:',
    '    z.writestr("kaizen_probe_only.py", "")',
    '    z.writestr(info + "METADATA", "Metadata-Version: 2.1\\nName: kaizen-lsp\\nVersion: 0.0.1\\nRequires-Dist: pygls>=2.0\\n")',
    '    z.writestr(info + "WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")',
    '    z.writestr(info + "RECORD", "")',
  ].join('\n');
  const made = spawnSync(python, ['-c', script, file], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  return file;
}

/** pip pointed at an index nobody listens on, and no config file or find-links to fall back to. */
function unreachableIndex(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PIP_')) env[k] = v;
  return { ...env, PIP_CONFIG_FILE: os.devNull, PIP_INDEX_URL: 'http://127.0.0.1:9/simple/', PIP_RETRIES: '0', PIP_TIMEOUT: '3', PYTHONPATH: '' };
}

function request(root: string, over: Partial<InstallRequest> = {}): InstallRequest & { lines: string[] } {
  const lines: string[] = [];
  const { dir, python: envPython } = privateEnv(path.join(root, 'storage'), process.platform);
  return {
    dir,
    python: envPython,
    wheel: { file: makeWheel(root), version: '0.0.1' },
    candidates: [[python]],
    env: unreachableIndex(),
    log: (line) => lines.push(line),
    progress: () => undefined,
    lines,
    ...over,
  };
}

// One environment for both cases: making a venv (with pip) is the slow part.
test('an unreachable index: one error naming what pip could not get; a broken environment is made again', { skip }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kz-install-'));
  try {
    const req = request(root);
    await assert.rejects(installServer(req), (err: Error) => {
      assert.match(err.message, /^pip could not install the server: .*pygls/);
      return true;
    });
    assert.ok(req.lines.some((l) => l.startsWith('pip: ')), req.lines.join('\n'));
    // the environment itself was made and works; only the server is missing
    assert.deepEqual(await checkPython([req.python], '0.0.1', req.env), { kind: 'missing' });

    // now its Python breaks: the next install makes the environment again instead of using it
    fs.rmSync(req.python, { force: true });
    fs.writeFileSync(req.python, '#!/bin/sh\necho "this environment is broken" >&2\nexit 3\n', { mode: 0o755 });
    assert.equal((await checkPython([req.python], '0.0.1', req.env)).kind, 'no-interpreter');
    await assert.rejects(installServer(req), /pip could not install the server/);
    assert.ok(req.lines.some((l) => /is broken .*making it again/.test(l)), req.lines.join('\n'));
    assert.deepEqual(await checkPython([req.python], '0.0.1', req.env), { kind: 'missing' }); // works again
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('no Python 3.10+ to make the environment with: one error listing what was tried', { skip }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kz-install-'));
  try {
    const missing = path.join(root, 'no-such', 'python');
    const req = request(root, { candidates: [[missing]] });
    await assert.rejects(installServer(req), (err: Error) => {
      assert.match(err.message, /^no Python 3\.10 or newer to make the environment with/);
      assert.ok(err.message.includes(missing), err.message);
      return true;
    });
    assert.equal(fs.existsSync(req.dir), false);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

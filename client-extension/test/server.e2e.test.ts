/**
 * End to end: start the real Python server through the client's own launch code
 * (core/launch.ts + core/settings.ts), speak LSP over stdio, open a Python file and wait
 * for diagnostics from the static pre-pass (no model needed).
 *
 * KAIZEN_TEST_PYTHON picks the interpreter (default: ../.venv/bin/python). Skipped only
 * when that interpreter cannot `import kaizen`.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { pathToFileURL } from 'url';
import {
  ConfigurationRequest,
  createProtocolConnection,
  DidOpenTextDocumentNotification,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  ProtocolConnection,
  PublishDiagnosticsNotification,
  PublishDiagnosticsParams,
  RegistrationRequest,
  ShowMessageRequest,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  UnregistrationRequest,
  WorkDoneProgressCreateRequest,
} from 'vscode-languageserver-protocol/node';
import { launchSpec, resolveInterpreter } from '../src/core/launch';
import { getterFrom, readSettings } from '../src/core/settings';
import { PACKAGE_ROOT } from './paths';

const TIMEOUT_MS = 60_000;
const SOURCE = 'def f(x=[]):\n    return x == None\n';

function testPython(): string {
  const configured = process.env.KAIZEN_TEST_PYTHON;
  if (!configured) return path.join(PACKAGE_ROOT, '..', '.venv', 'bin', 'python');
  return configured.includes('/') || configured.includes('\\') ? path.resolve(configured) : configured;
}

const python = testPython();
const probe = spawnSync(python, ['-c', 'import kaizen'], { encoding: 'utf8', timeout: 60_000 });
const skip = probe.status === 0
  ? false
  : `${python} cannot import kaizen (${(probe.error?.message ?? probe.stderr).trim().split('\n').pop()}); set KAIZEN_TEST_PYTHON`;

/** Rejects if `promise` has not settled within `ms` (a deadline, not a wait). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

test('the server started by the client publishes pre-pass diagnostics', { skip, timeout: TIMEOUT_MS + 30_000 }, async (t) => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'kaizen-client-e2e-'));
  const file = path.join(workspace, 'mutable_default.py');
  fs.writeFileSync(file, SOURCE);
  const uri = pathToFileURL(file).href;

  // The same path as the extension: settings -> interpreter -> command line + options.
  const settings = readSettings(getterFrom({
    interpreter: [python],
    'staticPrepass.enabled': true,
    'staticPrepass.only': true,
  }));
  const interpreter = await resolveInterpreter(settings.interpreter, undefined, async () => undefined);
  const spec = launchSpec(interpreter.argv, settings);
  assert.deepEqual(spec.args.slice(-3), ['-m', 'kaizen', 'serve']);
  const options = { ...spec.initializationOptions, databasePath: path.join(workspace, 'kaizen.db') };

  const child: ChildProcess = spawn(spec.command, spec.args, {
    cwd: workspace,
    env: { ...process.env, XDG_DATA_HOME: workspace, XDG_STATE_HOME: workspace, XDG_CACHE_HOME: workspace },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) => {
    child.on('error', (err) => reject(new Error(`could not start ${spec.command}: ${err.message}`)));
    child.on('exit', (code, signal) =>
      reject(new Error(`server exited (${code ?? signal}) early; stderr:\n${stderr}`)));
  });
  exited.catch(() => undefined); // observed below; avoid an unhandled rejection after the test

  assert.ok(child.stdout && child.stdin);
  const connection: ProtocolConnection = createProtocolConnection(
    new StreamMessageReader(child.stdout),
    new StreamMessageWriter(child.stdin),
  );
  connection.onRequest(ConfigurationRequest.type, (params) =>
    params.items.map((item) => (item.section === 'kaizen' ? options : null)));
  connection.onRequest(WorkDoneProgressCreateRequest.type, () => null);
  connection.onRequest(RegistrationRequest.type, () => undefined);
  connection.onRequest(UnregistrationRequest.type, () => undefined);
  connection.onRequest(ShowMessageRequest.type, () => null);
  const seen: string[] = []; // what the server said, for the failure message
  for (const method of ['window/logMessage', 'window/showMessage', '$/progress', 'kaizen/status']) {
    connection.onNotification(method, (params: unknown) => seen.push(`${method} ${JSON.stringify(params).slice(0, 300)}`));
  }
  const diagnostics = new Promise<PublishDiagnosticsParams>((resolve) => {
    connection.onNotification(PublishDiagnosticsNotification.type, (params) => {
      seen.push(`publishDiagnostics ${params.uri} (${params.diagnostics.length})`);
      if (params.uri === uri && params.diagnostics.length > 0) resolve(params);
    });
  });
  connection.listen();

  try {
    const init = await within(Promise.race([exited, connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: pathToFileURL(workspace).href,
      workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: 'e2e' }],
      capabilities: {
        workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
        window: { workDoneProgress: true },
        textDocument: { publishDiagnostics: { relatedInformation: true, codeDescriptionSupport: true, dataSupport: true } },
      },
      initializationOptions: options,
    })]), TIMEOUT_MS, 'the initialize answer');
    assert.ok(init.capabilities, 'initialize returned capabilities');
    await connection.sendNotification(InitializedNotification.type, {});
    await connection.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'python', version: 1, text: SOURCE },
    });

    const published = await within(Promise.race([exited, diagnostics]), TIMEOUT_MS, `diagnostics for ${uri}`)
      .catch((err: unknown) => {
        const said = seen.length ? seen.join('\n') : '(no notifications)';
        throw new Error(`${String(err)}\nserver notifications:\n${said}\nstderr:\n${stderr}`);
      });
    assert.ok(published.diagnostics.length >= 1);
    for (const d of published.diagnostics) {
      assert.ok(d.range.start.line >= 0 && d.range.end.line <= 1, `range inside the document: ${JSON.stringify(d.range)}`);
    }
    t.diagnostic(`diagnostics: ${published.diagnostics.map((d) => `${String(d.code)} ${d.message}`).join('; ')}`);

    await within(Promise.race([exited, connection.sendRequest(ShutdownRequest.type)]), 10_000, 'the shutdown answer');
    await connection.sendNotification(ExitNotification.type);
  } finally {
    connection.dispose();
    if (child.exitCode === null) child.kill();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});

/**
 * The processes behind provisioning, without `vscode`: the version check of a Python and the
 * install (or repair, or upgrade) of the private environment from the bundled wheel. The
 * editor side (src/provision.ts) adds the notification, the progress and the log channel;
 * test/installer.test.ts runs these against a real Python and a real pip.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { explain, judge, parseProbe, pipFailureCause, pipInstallArgs, PROBE, Verdict } from './provision';

export const PROBE_TIMEOUT_MS = 20_000;
export const INSTALL_TIMEOUT_MS = 15 * 60_000;

export interface RunResult {
  code: number | null;
  output: string;
  error?: string;
}

/** Runs argv to the end (no shell), collecting stdout and stderr; `onLine` sees each line. */
export function runProcess(
  argv: string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
  onLine?: (line: string) => void,
): Promise<RunResult> {
  return new Promise((resolve) => {
    const [command, ...args] = argv;
    let output = '';
    let settled = false;
    const done = (result: RunResult): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(result);
      }
    };
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, PYTHONUTF8: '1' } });
    const timer = setTimeout(() => {
      child.kill();
      done({ code: null, output, error: `no answer within ${Math.round(timeoutMs / 1000)} s` });
    }, timeoutMs);
    let partial = '';
    const take = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output += text;
      if (!onLine) return;
      const lines = (partial + text).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err: NodeJS.ErrnoException) =>
      done({ code: null, output, error: err.code === 'ENOENT' ? 'not found' : err.message }),
    );
    child.on('close', (code) => {
      if (onLine && partial.trim()) onLine(partial);
      done({ code, output });
    });
  });
}

/** Asks `argv` (a Python command line) whether it can run the server of version `needed`. */
export async function checkPython(argv: string[], needed: string, env: NodeJS.ProcessEnv): Promise<Verdict> {
  const result = await runProcess([...argv, '-c', PROBE], PROBE_TIMEOUT_MS, env);
  const probe = result.code === 0 ? parseProbe(result.output) : null;
  if (probe) return judge(probe, needed);
  const detail = result.error ?? (result.output.trim() ? pipFailureCause(result.output) : `exit ${String(result.code)}`);
  return { kind: 'no-interpreter', detail };
}

export interface InstallRequest {
  /** The private environment's directory and its Python (core/provision.ts privateEnv). */
  dir: string;
  python: string;
  wheel: { file: string; version: string };
  /** Pythons to make the environment with, the first 3.10+ one wins. */
  candidates: string[][];
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  progress: (message: string) => void;
}

/**
 * Makes the environment when it is missing or broken (a Python that does not run, or an old
 * one), then pip-installs the wheel into it (`--upgrade`: also the upgrade path). Throws an
 * Error whose message names the cause; pip's output has gone to `log` line by line.
 */
export async function installServer(req: InstallRequest): Promise<void> {
  const { dir, python, wheel, env, log } = req;
  const existing = fs.existsSync(python) || isBrokenLink(python) ? await checkPython([python], '0', env) : undefined;
  if (existing === undefined || existing.kind === 'no-interpreter' || existing.kind === 'python-too-old') {
    if (existing) log(`The private environment in ${dir} is broken (${explain(existing, python)}); making it again.`);
    req.progress('creating a private Python environment…');
    const base = await basePython(req.candidates, env);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    log(`Creating ${dir} with ${base.join(' ')}`);
    const made = await runProcess([...base, '-m', 'venv', dir], INSTALL_TIMEOUT_MS, env, log);
    if (made.code !== 0) {
      throw new Error(`creating the environment with ${base.join(' ')} failed: ${made.error ?? pipFailureCause(made.output)}`);
    }
  }
  req.progress(`installing kaizen-lsp ${wheel.version} (pip; the log shows its output)…`);
  log(`Installing ${path.basename(wheel.file)} into ${dir}`);
  const pip = await runProcess([python, ...pipInstallArgs(wheel.file)], INSTALL_TIMEOUT_MS, env, (line) => log(`pip: ${line}`));
  if (pip.code !== 0) throw new Error(`pip could not install the server: ${pip.error ?? pipFailureCause(pip.output)}`);
  const after = await checkPython([python], wheel.version, env);
  if (after.kind !== 'ready') throw new Error(explain(after, python));
  log(`Kaizen ${after.version} is installed in ${dir}`);
}

function isBrokenLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The first Python 3.10+ among the candidates, for `-m venv`. */
async function basePython(candidates: string[][], env: NodeJS.ProcessEnv): Promise<string[]> {
  const tried: string[] = [];
  for (const argv of candidates) {
    const verdict = await checkPython(argv, '0', env);
    if (verdict.kind !== 'no-interpreter' && verdict.kind !== 'python-too-old') return argv;
    tried.push(explain(verdict, argv.join(' ')));
  }
  throw new Error(`no Python 3.10 or newer to make the environment with (${tried.join(' ')})`);
}

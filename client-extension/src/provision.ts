/**
 * The extension provisions its own server: it asks the chosen Python whether Kaizen is
 * installed (core/provision.ts's probe), and when it is not, offers ONE notification whose
 * Install makes a private virtual environment in the extension's global storage and installs
 * the wheel bundled in the .vsix (its dependencies from the user's configured index). The
 * private environment is upgraded by itself when a newer extension brings a newer wheel.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
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
  Verdict,
} from './core/provision';

const PRIVATE_ENV_KEY = 'kaizen.privateEnvironment';
const PROBE_TIMEOUT_MS = 20_000;
const INSTALL_TIMEOUT_MS = 15 * 60_000;

interface RunResult {
  code: number | null;
  output: string;
  error?: string;
}

/** Runs argv to the end (no shell), collecting stdout and stderr; `onLine` sees each line. */
function run(argv: string[], timeoutMs: number, onLine?: (line: string) => void): Promise<RunResult> {
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
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUTF8: '1' } });
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

export class Provisioner {
  private offering = false;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The server version this extension needs from a Python it did not install itself. */
  get neededVersion(): string {
    const manifest = this.context.extension.packageJSON as { kaizen?: { minServerVersion?: string }; version: string };
    return manifest.kaizen?.minServerVersion ?? manifest.version;
  }

  /** The wheel inside the .vsix (make dist puts it in wheels/), if this build has one. */
  bundledWheel(): { file: string; version: string } | null {
    const dir = path.join(this.context.extensionPath, 'wheels');
    const found = newestWheel(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
    return found && { file: path.join(dir, found.file), version: found.version };
  }

  private get env(): { dir: string; python: string } {
    return privateEnv(this.context.globalStorageUri.fsPath, process.platform);
  }

  /** The private environment's Python, once the user chose to install the server there. */
  privatePython(): string | undefined {
    return this.context.globalState.get<boolean>(PRIVATE_ENV_KEY) ? this.env.python : undefined;
  }

  /** Asks `python` (a command line) whether it can run the server. */
  async check(argv: string[], needed = this.neededVersion): Promise<Verdict> {
    const started = Date.now();
    const result = await run([...argv, '-c', PROBE], PROBE_TIMEOUT_MS);
    const probe = result.code === 0 ? parseProbe(result.output) : null;
    const verdict: Verdict = probe
      ? judge(probe, needed)
      : { kind: 'no-interpreter', detail: result.error ?? (pipFailureCause(result.output) || `exit ${String(result.code)}`) };
    this.log.info(`Version check of ${argv.join(' ')}: ${verdict.kind}${'version' in verdict ? ` ${verdict.version}` : ''} (${Date.now() - started} ms)`);
    return verdict;
  }

  /** The private environment needs the bundled wheel when that is newer than what it has. */
  privateNeedsUpgrade(verdict: Verdict): boolean {
    const wheel = this.bundledWheel();
    return verdict.kind === 'ready' && wheel !== null && compareVersions(verdict.version, wheel.version) < 0;
  }

  /**
   * The ONE notification for a Python that cannot run the server. Resolves with the action
   * the user chose; while it is showing, later calls do not stack another one.
   */
  async offer(verdict: Verdict, python: string): Promise<'install' | 'interpreter' | undefined> {
    if (this.offering) return undefined;
    this.offering = true;
    try {
      const install = 'Install (private environment)';
      const choose = 'Choose Interpreter';
      const showLog = 'Show Log';
      const actions = this.bundledWheel() ? [install, choose, showLog] : [choose, showLog];
      const text = this.bundledWheel()
        ? explain(verdict, python)
        : `${explain(verdict, python)} This build of the extension has no bundled server: install kaizen-lsp there (pip install . from a clone) or choose another interpreter.`;
      this.log.warn(text);
      const choice = await vscode.window.showWarningMessage(text, ...actions);
      if (choice === showLog) this.log.show();
      if (choice === install) return 'install';
      if (choice === choose) return 'interpreter';
      return undefined;
    } finally {
      this.offering = false;
    }
  }

  /**
   * Makes (or repairs, or upgrades) the private environment and installs the bundled wheel,
   * with a progress notification and pip's output in the log. Returns the environment's
   * Python; throws an Error whose message names the cause.
   */
  async install(candidates: string[][]): Promise<string> {
    const wheel = this.bundledWheel();
    if (!wheel) throw new Error('this build of the extension has no bundled server wheel');
    const { dir, python } = this.env;
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Kaizen: installing its server', cancellable: false },
      async (progress) => {
        const existing = fs.existsSync(python) ? await this.check([python], '0') : undefined;
        if (existing === undefined || existing.kind === 'no-interpreter' || existing.kind === 'python-too-old') {
          if (existing) this.log.warn(`The private environment in ${dir} is broken (${explain(existing, python)}); making it again.`);
          progress.report({ message: 'creating a private Python environment…' });
          const base = await this.basePython(candidates);
          fs.rmSync(dir, { recursive: true, force: true });
          fs.mkdirSync(path.dirname(dir), { recursive: true });
          this.log.info(`Creating ${dir} with ${base.join(' ')}`);
          const made = await run([...base, '-m', 'venv', dir], INSTALL_TIMEOUT_MS, (line) => this.log.info(line));
          if (made.code !== 0) {
            throw new Error(`creating the environment with ${base.join(' ')} failed: ${made.error ?? pipFailureCause(made.output)}`);
          }
        }
        progress.report({ message: `installing kaizen-lsp ${wheel.version} (pip; the log shows its output)…` });
        this.log.info(`Installing ${path.basename(wheel.file)} into ${dir}`);
        const pip = await run([python, ...pipInstallArgs(wheel.file)], INSTALL_TIMEOUT_MS, (line) => this.log.info(`pip: ${line}`));
        if (pip.code !== 0) throw new Error(`pip could not install the server: ${pip.error ?? pipFailureCause(pip.output)}`);
        const after = await this.check([python], wheel.version);
        if (after.kind !== 'ready') throw new Error(explain(after, python));
        await this.context.globalState.update(PRIVATE_ENV_KEY, true);
        this.log.info(`Kaizen ${after.version} is installed in ${dir}`);
        return python;
      },
    );
  }

  /** The first Python 3.10+ among the candidates (the chosen interpreter first), for the venv. */
  private async basePython(candidates: string[][]): Promise<string[]> {
    const tried: string[] = [];
    for (const argv of candidates) {
      const verdict = await this.check(argv, '0');
      if (verdict.kind !== 'no-interpreter' && verdict.kind !== 'python-too-old') return argv;
      tried.push(`${argv.join(' ')}: ${explain(verdict, argv.join(' '))}`);
    }
    throw new Error(`no Python 3.10 or newer to make the environment with (${tried.join('; ')})`);
  }
}

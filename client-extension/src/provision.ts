/**
 * The extension provisions its own server: it asks the chosen Python whether Kaizen is
 * installed (core/provision.ts's probe), and when it is not, offers ONE notification whose
 * Install makes a private virtual environment in the extension's global storage and installs
 * the wheel bundled in the .vsix (its dependencies from the user's configured index). The
 * private environment is upgraded by itself when a newer extension brings a newer wheel.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { checkPython, installServer } from './core/installer';
import { compareVersions, explain, newestWheel, privateEnv, Verdict } from './core/provision';

const PRIVATE_ENV_KEY = 'kaizen.privateEnvironment';

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
    return this.context.globalState.get<string>(PRIVATE_ENV_KEY) ? this.env.python : undefined;
  }

  /**
   * The private environment needs the bundled wheel when that is newer than the version
   * recorded at its install. Known without running anything, so a start from the private
   * environment asks no Python first: the version check is off the critical path.
   */
  privateIsCurrent(): boolean {
    const installed = this.context.globalState.get<string>(PRIVATE_ENV_KEY);
    const wheel = this.bundledWheel();
    return typeof installed === 'string' && (wheel === null || compareVersions(installed, wheel.version) >= 0);
  }

  /** Asks `python` (a command line) whether it can run the server. */
  async check(argv: string[], needed = this.neededVersion): Promise<Verdict> {
    const started = Date.now();
    const verdict = await checkPython(argv, needed, process.env);
    this.log.info(`Version check of ${argv.join(' ')}: ${verdict.kind}${'version' in verdict ? ` ${verdict.version}` : ''} (${Date.now() - started} ms)`);
    return verdict;
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
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Kaizen: installing its server', cancellable: false },
      (progress) =>
        installServer({
          dir,
          python,
          wheel,
          candidates,
          env: process.env,
          log: (line) => this.log.info(line),
          progress: (message) => progress.report({ message }),
        }),
    );
    await this.context.globalState.update(PRIVATE_ENV_KEY, wheel.version);
    return python;
  }
}

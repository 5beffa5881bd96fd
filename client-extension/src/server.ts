/**
 * The server process and its language client: start, stop and restart (serialised, so
 * two quick restarts never leave two servers), settings in and commands out.
 */
import * as os from 'os';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  State,
} from 'vscode-languageclient/node';
import { serverCommandsToRegister } from './core/commands';
import { documentSelector, Interpreter, LANGUAGES, LaunchSpec, launchSpec, resolveInterpreter } from './core/launch';
import { serverEnvironment } from './core/secrets';
import { ApiKeys } from './keys';
import { Provisioner } from './provision';
import { AlertNotification, parseAlertNotification, parseStatusNotification, StatusNotification } from './core/protocol';
import { ServerState } from './core/badge';
import { ClientSettings, expandVariables, readSettings } from './core/settings';
import { activePython } from './python';

export function currentSettings(): ClientSettings {
  const config = vscode.workspace.getConfiguration('kaizen');
  return readSettings((key) => config.get(key));
}

/**
 * The language client without its own error notifications: it would stack "couldn't create
 * connection to server", "Pending response rejected..." and "Restarting server failed" on
 * top of the one message KaizenServer shows. Everything still goes to the log.
 */
class QuietLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown): void {
    super.error(message, data, false);
  }
}

export class KaizenServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  /** The first start is timed from activation (time to first finding), later ones from restart. */
  private firstStart = true;
  private queue: Promise<void> = Promise.resolve();
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  private readonly statusEmitter = new vscode.EventEmitter<StatusNotification>();
  private readonly alertEmitter = new vscode.EventEmitter<AlertNotification>();
  readonly onDidChangeState = this.stateEmitter.event;
  readonly onStatus = this.statusEmitter.event;
  readonly onAlert = this.alertEmitter.event;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly provisioner: Provisioner,
    private readonly keys: ApiKeys,
    private readonly activatedAt = Date.now(),
  ) {}

  get isRunning(): boolean {
    return this.client?.isRunning() ?? false;
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      await this.stopNow();
      await this.startNow();
    });
  }

  /** Installs (or repairs) the private environment, then starts the server from it. */
  installAndStart(): Promise<void> {
    return this.enqueue(async () => {
      await this.stopNow();
      this.stateEmitter.fire('installing');
      try {
        const chosen = await this.interpreter(false);
        await this.provisioner.install([chosen.argv, ['python3'], ['python']]);
      } catch (err) {
        this.stateEmitter.fire('not-installed');
        const cause = err instanceof Error ? err.message : String(err);
        this.log.error(`Installing the server failed: ${cause}`);
        void this.failure(`Kaizen: installing the server failed: ${cause}`, ['Show Log', 'Choose Interpreter']);
        return;
      }
      if (currentSettings().interpreter.length > 0) {
        // The user chose the private environment over the Python the setting names: clear it
        // (the configuration change restarts the server, from the private environment).
        const config = vscode.workspace.getConfiguration('kaizen');
        const inspected = config.inspect('interpreter');
        if (inspected?.workspaceValue !== undefined) await config.update('interpreter', undefined, vscode.ConfigurationTarget.Workspace);
        if (inspected?.globalValue !== undefined) await config.update('interpreter', undefined, vscode.ConfigurationTarget.Global);
        this.log.info('kaizen.interpreter was cleared: the server runs from the private environment.');
        if (currentSettings().interpreter.length === 0) return;
      }
      await this.startNow();
    });
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.stopNow());
  }

  /** Runs a server command (docs/protocol.md) with its one argument object. */
  async execute(command: string, arg: object = {}): Promise<unknown> {
    const client = this.client;
    if (!client?.isRunning()) {
      throw new Error('the server is not running (see the "Kaizen" output, or run "Kaizen: Restart Server").');
    }
    const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [arg] });
    return result;
  }

  async notifyConfiguration(): Promise<void> {
    if (this.client?.isRunning()) {
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { kaizen: currentSettings().server },
      });
    }
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
    this.statusEmitter.dispose();
    this.alertEmitter.dispose();
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue.catch(() => undefined).then(step);
    return this.queue;
  }

  private async stopNow(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      await client.dispose(2000);
    } catch (err) {
      this.log.warn(`Stopping the server: ${String(err)}`);
    }
    this.stateEmitter.fire('stopped');
  }

  /** The interpreter to ask: the setting, the private environment, the Python extension, python3. */
  private async interpreter(includePrivate = true): Promise<Interpreter> {
    const settings = currentSettings();
    const folder = vscode.workspace.workspaceFolders?.[0];
    const configured = expandVariables(settings.interpreter, {
      workspaceFolder: folder?.uri.fsPath,
      userHome: os.homedir(),
    });
    const privatePython = includePrivate ? this.provisioner.privatePython() : undefined;
    return resolveInterpreter(configured, privatePython, () => activePython(folder?.uri));
  }

  private async startNow(): Promise<void> {
    this.stateEmitter.fire('starting');
    const began = Date.now();
    let python = 'python';
    let source = '';
    try {
      const settings = currentSettings();
      const folder = vscode.workspace.workspaceFolders?.[0];
      // the stored keys are read while the interpreter answers the version check
      let keysMs = -1;
      const keys = this.keys.forStart().then(
        (found) => {
          keysMs = Date.now() - began;
          return found;
        },
        (err: unknown) => {
          this.log.warn(`Reading the stored API keys failed (${String(err)}); starting without them.`);
          return new Map<string, string>();
        },
      );
      const interpreter = await this.interpreter();
      const interpreterMs = Date.now() - began;
      python = interpreter.argv.join(' ');
      source = interpreter.source;
      if (interpreter.source === 'private' && !this.provisioner.privateIsCurrent()) {
        this.log.info('The bundled server is newer than the private environment\'s: upgrading it.');
        this.stateEmitter.fire('installing');
        await this.provisioner.install([interpreter.argv, ['python3'], ['python']]);
        this.stateEmitter.fire('starting');
      }
      // A Python the extension did not set up is asked first, so that a missing Kaizen is one
      // clear notification instead of a failed start; the private environment is known.
      if (interpreter.source !== 'private' && !(await this.offerIfNotReady(interpreter.argv))) return;
      const spec = launchSpec(interpreter.argv, settings);
      const env = serverEnvironment(process.env, await keys);
      this.log.info(`Starting: ${[spec.command, ...spec.args].join(' ')} (interpreter from ${interpreter.source})`);
      const spawned = Date.now();
      this.client = this.createClient(spec, folder?.uri.fsPath, env, settings.languages.length ? settings.languages : LANGUAGES);
      await this.client.start();
      // start() can resolve although the process died during initialize (the client logged
      // "couldn't create connection"): that is a failed start, not a running server
      if (!this.client.isRunning()) throw new Error('the server process exited while starting (the log has its output)');
      const ready = Date.now();
      // The extension's own part (interpreter discovery, version check, keys) against the server's.
      const first = this.firstStart;
      this.firstStart = false;
      this.log.info(
        `Start-up: ${ready - (first ? this.activatedAt : began)} ms from ${first ? 'activation' : 'restart'} to initialized; ` +
          `the server's own start-up ${ready - spawned} ms, the extension's ${spawned - (first ? this.activatedAt : began)} ms ` +
          `(${began - (first ? this.activatedAt : began)} ms to this start, interpreter ${interpreterMs} ms, keys ${keysMs} ms)`,
      );
    } catch (err) {
      const client = this.client;
      this.client = undefined;
      void client?.dispose(2000).catch(() => undefined);
      const cause = err instanceof Error ? err.message : String(err);
      // a broken private environment (or a failed upgrade): say what is wrong, offer Install
      if (source === 'private' && !(await this.offerIfNotReady([python]).catch(() => true))) {
        this.log.error(`The server did not start from the private environment: ${cause}`);
        return;
      }
      this.stateEmitter.fire('failed');
      this.log.error(`The server did not start: ${cause}`);
      void this.failure(`Kaizen: the server did not start with "${python}": ${cause}`, ['Show Log', 'Choose Interpreter']);
    }
  }

  /**
   * The version check of `argv`; when it cannot run the server, the badge says so and the ONE
   * notification offers Install / Choose Interpreter / Show Log. True when the server can start.
   */
  private async offerIfNotReady(argv: string[]): Promise<boolean> {
    const verdict = await this.provisioner.check(argv);
    if (verdict.kind === 'ready') return true;
    this.stateEmitter.fire('not-installed');
    void this.provisioner.offer(verdict, argv.join(' ')).then((choice) => {
      if (choice === 'install') void this.installAndStart();
      if (choice === 'interpreter') void vscode.commands.executeCommand('kaizen.chooseInterpreter');
    });
    return false;
  }

  /** One error message with its way out; never a restart loop. */
  private async failure(text: string, actions: string[]): Promise<void> {
    const choice = await vscode.window.showErrorMessage(text, ...actions);
    if (choice === 'Show Log') this.log.show();
    if (choice === 'Choose Interpreter') await vscode.commands.executeCommand('kaizen.chooseInterpreter');
    if (choice === 'Restart') await this.restart();
  }

  private createClient(
    spec: LaunchSpec,
    cwd: string | undefined,
    env: Record<string, string>,
    languages: readonly string[],
  ): LanguageClient {
    let running = false;
    const clientOptions: LanguageClientOptions = {
      documentSelector: documentSelector(languages),
      outputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: spec.initializationOptions,
      initializationFailedHandler: () => false,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => {
          // During start-up startNow's catch says it once; afterwards this does.
          if (running && this.client === client) {
            this.stateEmitter.fire('failed');
            this.log.error('The server stopped unexpectedly.');
            void this.failure('Kaizen: the server stopped unexpectedly.', ['Show Log', 'Restart']);
          }
          running = false;
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      middleware: {
        workspace: {
          // Answer `workspace/configuration` for "kaizen" in the protocol's shape.
          configuration: async (params, token, next) => {
            const answers: unknown = await next(params, token);
            const server = currentSettings().server;
            return params.items.map((item, i) =>
              item.section === 'kaizen' ? server : Array.isArray(answers) ? (answers[i] as unknown) : null,
            );
          },
        },
      },
    };
    const client = new QuietLanguageClient(
      'kaizen',
      'Kaizen',
      { command: spec.command, args: spec.args, options: { cwd, env } },
      clientOptions,
    );
    this.skipClientOwnedCommands(client);
    client.onNotification('kaizen/status', (params: unknown) => {
      const note = parseStatusNotification(params);
      if (note) this.statusEmitter.fire(note);
    });
    client.onNotification('kaizen/alert', (params: unknown) => {
      const alert = parseAlertNotification(params);
      if (alert) this.alertEmitter.fire(alert);
    });
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Running) running = true;
      if (this.client === client && (newState !== State.Stopped || running)) {
        this.stateEmitter.fire(newState === State.Running ? 'running' : newState === State.Starting ? 'starting' : 'stopped');
      }
    });
    return client;
  }

  /**
   * The language client registers a VS Code command for every command the server
   * advertises; for ids the client already owns (they wrap the server's) that would
   * fail with "command already exists", so those are left out.
   */
  private skipClientOwnedCommands(client: LanguageClient): void {
    const feature = client.getFeature(ExecuteCommandRequest.method);
    const register = feature.register.bind(feature);
    feature.register = (data) =>
      register({
        ...data,
        registerOptions: { ...data.registerOptions, commands: serverCommandsToRegister(data.registerOptions.commands) },
      });
  }

}

/**
 * The server process and its language client: start, stop and restart (serialised, so
 * two quick restarts never leave two servers), settings in and commands out.
 */
import * as os from 'os';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  State,
} from 'vscode-languageclient/node';
import { serverCommandsToRegister } from './core/commands';
import { LANGUAGES, LaunchSpec, launchSpec, resolveInterpreter } from './core/launch';
import { AlertNotification, parseAlertNotification, parseStatusNotification, StatusNotification } from './core/protocol';
import { ServerState } from './core/badge';
import { ClientSettings, expandVariables, readSettings } from './core/settings';
import { activePython } from './python';

export function currentSettings(): ClientSettings {
  const config = vscode.workspace.getConfiguration('kaizen');
  return readSettings((key) => config.get(key));
}

export class KaizenServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  private readonly statusEmitter = new vscode.EventEmitter<StatusNotification>();
  private readonly alertEmitter = new vscode.EventEmitter<AlertNotification>();
  readonly onDidChangeState = this.stateEmitter.event;
  readonly onStatus = this.statusEmitter.event;
  readonly onAlert = this.alertEmitter.event;

  constructor(private readonly log: vscode.LogOutputChannel) {}

  get isRunning(): boolean {
    return this.client?.isRunning() ?? false;
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      await this.stopNow();
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

  private async startNow(): Promise<void> {
    this.stateEmitter.fire('starting');
    let python = 'python';
    try {
      const settings = currentSettings();
      const folder = vscode.workspace.workspaceFolders?.[0];
      const configured = expandVariables(settings.interpreter, {
        workspaceFolder: folder?.uri.fsPath,
        userHome: os.homedir(),
      });
      const interpreter = await resolveInterpreter(configured, () => activePython(folder?.uri));
      const spec = launchSpec(interpreter.argv, settings);
      python = spec.command;
      this.log.info(`Starting: ${[spec.command, ...spec.args].join(' ')} (interpreter from ${interpreter.source})`);
      this.client = this.createClient(spec, folder?.uri.fsPath);
      await this.client.start();
    } catch (err) {
      const client = this.client;
      this.client = undefined;
      void client?.dispose(2000).catch(() => undefined);
      this.stateEmitter.fire('failed');
      this.log.error(`The server did not start: ${String(err)}`);
      void this.explainStartFailure(python);
    }
  }

  private createClient(spec: LaunchSpec, cwd: string | undefined): LanguageClient {
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
      ]),
      outputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: spec.initializationOptions,
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
    const client = new LanguageClient(
      'kaizen',
      'Kaizen',
      { command: spec.command, args: spec.args, options: { cwd } },
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
      if (this.client === client) {
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

  private async explainStartFailure(python: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(
      `Kaizen: the server did not start with "${python}". Is kaizen-lsp installed there (pip install kaizen-lsp)?`,
      'Show Log',
      'Set Interpreter',
    );
    if (choice === 'Show Log') this.log.show();
    if (choice === 'Set Interpreter') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'kaizen.interpreter');
    }
  }
}

/**
 * The interactive commands: choosing a provider and model, opening a pull request and
 * running a pipeline on the current file. The arguments they send come from core/commands.ts.
 */
import * as vscode from 'vscode';
import {
  ModelChoice,
  PIPELINE_CHOICES,
  pipelinesOf,
  PROVIDERS,
  ProviderOption,
  PullRequestArg,
  pullRequestArgFrom,
  refactorAt,
  setModelArg,
  settingUpdates,
  uriFromArg,
  validateApiBase,
} from './core/commands';
import { parsePullRequest, parseRefactors, parseRunResult, parseStatus, Pipeline, Status } from './core/protocol';
import { KaizenServer } from './server';

export async function chooseModel(server: KaizenServer, onStatus: (s: Status) => void): Promise<void> {
  const provider = await vscode.window.showQuickPick(
    PROVIDERS.map((option) => ({ label: option.label, detail: option.detail, option })),
    { title: 'Kaizen: Choose Provider (1/3)', placeHolder: 'Which provider should Kaizen call?' },
  );
  if (!provider) return;
  let apiBase: string | null = null;
  if (provider.option.needsApiBase) {
    const value = await vscode.window.showInputBox({
      title: 'Kaizen: Base URL',
      prompt: 'Base URL of the OpenAI-compatible server',
      value: provider.option.defaultApiBase ?? '',
      validateInput: validateApiBase,
      ignoreFocusOut: true,
    });
    if (value === undefined) return;
    apiBase = value.trim();
  }
  const model = await pickModel(provider.option);
  if (!model) return;
  const pipeline = await vscode.window.showQuickPick(
    PIPELINE_CHOICES.map((c) => ({ label: c.label, value: c.value })),
    { title: `Kaizen: Use ${model} for (3/3)` },
  );
  if (!pipeline) return;

  const choice: ModelChoice = { provider: provider.option.provider, model, apiBase };
  const config = vscode.workspace.getConfiguration('kaizen');
  const target = vscode.workspace.workspaceFolders
    ? vscode.ConfigurationTarget.Workspace
    : vscode.ConfigurationTarget.Global;
  for (const [key, value] of settingUpdates(pipeline.value, choice)) {
    await config.update(key, value, target);
  }
  if (!server.isRunning) return; // the settings apply when the server starts
  for (const p of pipelinesOf(pipeline.value)) {
    onStatus(parseStatus(await server.execute('kaizen.setModel', setModelArg(p, choice))));
  }
}

/** Suggestions plus whatever the user types. */
function pickModel(option: ProviderOption): Promise<string | undefined> {
  return new Promise((resolve) => {
    const pick = vscode.window.createQuickPick();
    const suggestions = option.models.map((label) => ({ label }));
    pick.title = `Kaizen: ${option.label} Model (2/3)`;
    pick.placeholder = 'Pick a suggestion or type any model name';
    pick.items = suggestions;
    pick.onDidChangeValue((value) => {
      const typed = value.trim();
      pick.items = typed && !option.models.includes(typed)
        ? [{ label: typed, description: 'model name as typed' }, ...suggestions]
        : suggestions;
    });
    pick.onDidAccept(() => {
      resolve(pick.selectedItems[0]?.label ?? (pick.value.trim() || undefined));
      pick.hide();
    });
    pick.onDidHide(() => {
      resolve(undefined);
      pick.dispose();
    });
    pick.show();
  });
}

export async function createPullRequest(server: KaizenServer, arg: unknown): Promise<void> {
  const target = pullRequestArgFrom(arg) ?? refactorUnderCursor() ?? (await pickRefactor(server));
  if (!target) return;
  const pr = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Kaizen: creating a pull request…' },
    async () => parsePullRequest(await server.execute('kaizen.createPullRequest', target)),
  );
  const name = pr.number !== null ? `#${pr.number}` : pr.branch ?? '';
  const open = await vscode.window.showInformationMessage(`Kaizen: pull request ${name} created: ${pr.url}`, 'Open');
  if (open === 'Open') await vscode.env.openExternal(vscode.Uri.parse(pr.url));
}

function refactorUnderCursor(): PullRequestArg | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const fingerprint = refactorAt(vscode.languages.getDiagnostics(editor.document.uri), editor.selection.active);
  return fingerprint ? { uri: editor.document.uri.toString(), fingerprint } : undefined;
}

async function pickRefactor(server: KaizenServer): Promise<PullRequestArg | undefined> {
  const refactors = parseRefactors(await server.execute('kaizen.listRefactors', {}));
  if (refactors.length === 0) {
    void vscode.window.showInformationMessage(
      'Kaizen has no refactor opportunities to open a pull request for. Try "Kaizen: Run Refactor on File".',
    );
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    refactors.map((r) => ({
      label: r.title,
      description: vscode.workspace.asRelativePath(vscode.Uri.parse(r.uri)) + (r.range ? `:${r.range.start.line + 1}` : ''),
      target: { uri: r.uri, fingerprint: r.fingerprint },
    })),
    { title: 'Kaizen: Create Pull Request for…', matchOnDescription: true },
  );
  return picked?.target;
}

export async function runPipeline(server: KaizenServer, pipeline: Pipeline, arg: unknown): Promise<void> {
  const uri = uriFromArg(arg) ?? vscode.window.activeTextEditor?.document.uri.toString();
  if (!uri) {
    void vscode.window.showWarningMessage('Kaizen: open a file first.');
    return;
  }
  const name = pipeline === 'autofix' ? 'Auto-fix' : 'Refactor';
  const command = pipeline === 'autofix' ? 'kaizen.runAutofix' : 'kaizen.runRefactor';
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Kaizen ${name}` },
    async () => parseRunResult(await server.execute(command, { uri })),
  );
  const n = result.findings;
  void vscode.window.showInformationMessage(`Kaizen ${name}: ${n} finding${n === 1 ? '' : 's'}.`);
}

/**
 * Which Python runs the server: a path or command typed in (written to kaizen.interpreter,
 * which restarts the server), or back to discovery.
 */
export async function chooseInterpreter(): Promise<void> {
  const config = vscode.workspace.getConfiguration('kaizen');
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'Enter the path of a Python 3.10+ interpreter…', value: 'enter' },
      { label: 'Browse…', value: 'browse' },
      { label: 'Discover it', detail: 'the private environment, the Python extension\'s interpreter, else python3', value: 'clear' },
    ],
    { title: 'Kaizen: Choose Interpreter' },
  );
  if (!picked) return;
  let value: string | undefined;
  if (picked.value === 'enter') {
    value = await vscode.window.showInputBox({
      title: 'Kaizen: Python interpreter',
      prompt: 'Path of a Python with kaizen-lsp installed (or one Kaizen may install its server for)',
      value: currentInterpreter(config),
      ignoreFocusOut: true,
    });
  } else if (picked.value === 'browse') {
    const [file] = (await vscode.window.showOpenDialog({ canSelectMany: false, title: 'Kaizen: Python interpreter' })) ?? [];
    value = file?.fsPath;
  }
  if (picked.value === 'clear') {
    await config.update('interpreter', undefined, vscode.ConfigurationTarget.Global);
  } else if (value?.trim()) {
    await config.update('interpreter', value.trim(), vscode.ConfigurationTarget.Global);
  }
}

function currentInterpreter(config: vscode.WorkspaceConfiguration): string {
  const value = config.get<string | string[]>('interpreter');
  return Array.isArray(value) ? value.join(' ') : value ?? '';
}

/**
 * Kaizen's VS Code client: starts `python -m kaizen serve` through vscode-languageclient
 * and adds commands, the provider badge, a metrics page and a learnings view. All
 * analysis lives in the server; this file only wires the pieces together.
 */
import * as vscode from 'vscode';
import { ClientCommand } from './core/commands';
import { parseStatus } from './core/protocol';
import { RESTART_KEYS } from './core/settings';
import { LEARNINGS_VIEW, LearningsTree } from './learningsView';
import { MetricsPanel } from './metricsPanel';
import { RulesTree } from './rulesView';
import { onActivePythonChange } from './python';
import { currentSettings, KaizenServer } from './server';
import { ApiKeys } from './keys';
import { Provisioner } from './provision';
import { ProviderBadge } from './statusBar';
import { chooseInterpreter, chooseModel, createPullRequest, runPipeline } from './ui';

let active: KaizenServer | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const activatedAt = Date.now();
  const log = vscode.window.createOutputChannel('Kaizen', { log: true });
  const keys = new ApiKeys(context.secrets, context.globalState);
  keys.prefetch(); // secret storage can be slow to answer right after a window opens
  const server = new KaizenServer(log, new Provisioner(context, log), keys, activatedAt);
  const badge = new ProviderBadge();
  const metrics = new MetricsPanel(server, log);
  const learnings = new LearningsTree(server, log);
  const rules = new RulesTree(server, log);
  active = server;
  context.subscriptions.push(log, server, badge, metrics, learnings, rules);
  context.subscriptions.push(vscode.window.registerTreeDataProvider(LEARNINGS_VIEW, learnings));

  const refreshStatus = async (): Promise<void> => {
    try {
      badge.setStatus(parseStatus(await server.execute('kaizen.getStatus', {})));
    } catch (err) {
      log.warn(`kaizen.getStatus: ${String(err)}`);
    }
  };
  server.onDidChangeState((state) => {
    badge.setServer(state);
    if (state === 'running') {
      void refreshStatus();
      learnings.refresh();
      rules.refresh();
    }
  });
  server.onStatus((note) => badge.notify(note));
  server.onAlert((alert) => badge.alert(alert));

  const handlers: Record<ClientCommand, (arg?: unknown) => Promise<void>> = {
    'kaizen.chooseModel': () => chooseModel(server, (status) => badge.setStatus(status)),
    'kaizen.createPullRequest': (arg) => createPullRequest(server, arg),
    'kaizen.showMetrics': () => metrics.show(),
    'kaizen.showLearnings': () => learnings.reveal(),
    'kaizen.runAutofix': (arg) => runPipeline(server, 'autofix', arg),
    'kaizen.runRefactor': (arg) => runPipeline(server, 'refactor', arg),
    'kaizen.restartServer': () => server.restart(),
    'kaizen.installServer': () => server.installAndStart(),
    'kaizen.chooseInterpreter': () => chooseInterpreter(),
    'kaizen.showLog': async () => log.show(),
    // a key reaches the server only through its process environment: restart to hand it over
    'kaizen.setApiKey': async () => {
      if (await keys.set()) await server.restart();
    },
    'kaizen.clearApiKey': async () => {
      if (await keys.clear()) await server.restart();
    },
    'kaizen.learnings.refresh': async () => learnings.refresh(),
    'kaizen.learnings.delete': (arg) => learnings.delete(arg),
    'kaizen.rules.refresh': async () => rules.refresh(),
    'kaizen.rules.accept': (arg) => rules.accept(arg),
    'kaizen.rules.reject': (arg) => rules.reject(arg),
  };
  for (const [id, handler] of Object.entries(handlers)) {
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (arg?: unknown) => {
        try {
          await handler(arg);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          log.error(`${id}: ${message}`);
          void vscode.window.showErrorMessage(`Kaizen: ${message}`);
        }
      }),
    );
  }

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (RESTART_KEYS.some((key) => e.affectsConfiguration(`kaizen.${key}`))) {
        void server.restart();
      } else if (e.affectsConfiguration('kaizen')) {
        void server.notifyConfiguration();
      }
    }),
  );
  // A new active interpreter in the Python extension matters only when kaizen.interpreter is unset.
  void onActivePythonChange(() => {
    if (currentSettings().interpreter.length === 0) void server.restart();
  }).then((watch) => watch && context.subscriptions.push(watch));

  void server.restart();
}

export async function deactivate(): Promise<void> {
  await active?.stop();
  active = undefined;
}

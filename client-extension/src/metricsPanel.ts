/** The "Kaizen Metrics" webview: one panel, re-rendered from kaizen.analyzeMetrics. */
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { metricsView } from './core/metrics';
import { metricsHtml } from './core/metricsHtml';
import { parseMetrics } from './core/protocol';
import { KaizenServer } from './server';

export class MetricsPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;

  constructor(
    private readonly server: KaizenServer,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async show(): Promise<void> {
    if (this.panel) {
      this.panel.reveal();
    } else {
      const panel = vscode.window.createWebviewPanel('kaizen.metrics', 'Kaizen Metrics', vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [],
      });
      panel.onDidDispose(() => (this.panel = undefined));
      panel.webview.onDidReceiveMessage((msg: unknown) => {
        if (typeof msg === 'object' && msg !== null && 'type' in msg && msg.type === 'refresh') {
          this.render().catch((err: unknown) => this.log.error(`Metrics: ${String(err)}`));
        }
      });
      this.panel = panel;
    }
    await this.render();
  }

  dispose(): void {
    this.panel?.dispose();
  }

  private async render(): Promise<void> {
    let metrics;
    try {
      metrics = parseMetrics(await this.server.execute('kaizen.analyzeMetrics', {}));
    } catch (err: unknown) {
      // Never leave an empty panel: say what went wrong where the metrics would be.
      if (this.panel) this.panel.webview.html = errorHtml(String(err));
      throw err;
    }
    if (this.panel) {
      const nonce = randomBytes(16).toString('hex');
      this.panel.webview.html = metricsHtml(metricsView(metrics), metrics.report, nonce, this.panel.webview.cspSource);
    }
  }
}

function errorHtml(message: string): string {
  const text = message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none';"></head><body><h2>Kaizen Metrics</h2><p>The server could not report metrics: ${text}</p></body></html>`;
}

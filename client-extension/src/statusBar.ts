/** The provider badge in the status bar; the text comes from core/badge.ts. */
import * as vscode from 'vscode';
import { badgeView, BadgeState, INITIAL_BADGE, ServerState, withAlert, withNotification, withStatus } from './core/badge';
import { AlertNotification, Status, StatusNotification } from './core/protocol';

export class ProviderBadge implements vscode.Disposable {
  private state: BadgeState = INITIAL_BADGE;
  private readonly item = vscode.window.createStatusBarItem('kaizen.provider', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'Kaizen provider';
    this.paint();
    this.item.show();
  }

  setServer(server: ServerState): void {
    this.state = { ...this.state, server, running: server === 'running' ? this.state.running : new Map() };
    this.paint();
  }

  setStatus(status: Status): void {
    this.state = withStatus(this.state, status);
    this.paint();
  }

  notify(note: StatusNotification): void {
    this.state = withNotification(this.state, note);
    this.paint();
  }

  alert(note: AlertNotification): void {
    this.state = withAlert(this.state, note);
    this.paint();
  }

  dispose(): void {
    this.item.dispose();
  }

  private paint(): void {
    const view = badgeView(this.state);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
  }
}

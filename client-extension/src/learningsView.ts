/**
 * The "Kaizen Learnings" tree in the Explorer, from kaizen.listLearnings, with delete; and
 * at its top a "Dismissed findings" node listing kaizen.listDismissals, where a click on a
 * dismissal offers to undo it (kaizen.undismiss: the finding is shown again on the next
 * review, and the server reviews the open documents again at once).
 */
import * as vscode from 'vscode';
import { Learning, parseLearnings } from './core/protocol';
import { KaizenServer } from './server';

export const LEARNINGS_VIEW = 'kaizen.learnings';
/** Registered here, not contributed: the tree's items are its only callers. */
const UNDISMISS = 'kaizen.learnings.undismiss';

export interface Dismissal {
  id: number;
  fingerprint: string;
  path: string;
  line: number;
  category: string;
  message: string;
  reason: string | null;
}

interface DismissalsGroup {
  group: 'dismissals';
  dismissals: Dismissal[];
}

type Node = Learning | DismissalsGroup | Dismissal;

/** The server's `{"dismissals": [...]}`; malformed entries are skipped, never thrown. */
export function parseDismissals(v: unknown): Dismissal[] {
  const rows = typeof v === 'object' && v !== null ? (v as { dismissals?: unknown }).dismissals : [];
  if (!Array.isArray(rows)) return [];
  const out: Dismissal[] = [];
  for (const row of rows) {
    if (typeof row !== 'object' || row === null) continue;
    const o = row as Record<string, unknown>;
    if (typeof o.id !== 'number' || typeof o.fingerprint !== 'string') continue;
    out.push({
      id: o.id,
      fingerprint: o.fingerprint,
      path: typeof o.path === 'string' ? o.path : '',
      line: typeof o.line === 'number' ? o.line : 0,
      category: typeof o.category === 'string' ? o.category : '',
      message: typeof o.message === 'string' ? o.message : '(no message)',
      reason: typeof o.reason === 'string' ? o.reason : null,
    });
  }
  return out;
}

function isGroup(node: Node): node is DismissalsGroup {
  return (node as DismissalsGroup).group === 'dismissals';
}

function isDismissal(node: Node): node is Dismissal {
  return typeof (node as Dismissal).fingerprint === 'string' && !isGroup(node);
}

export class LearningsTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly undoCommand: vscode.Disposable;

  constructor(
    private readonly server: KaizenServer,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.undoCommand = vscode.commands.registerCommand(UNDISMISS, (d: unknown) => this.undismiss(d));
  }

  refresh(): void {
    this.changed.fire();
  }

  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${LEARNINGS_VIEW}.focus`);
    this.refresh();
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (isGroup(node)) {
      const item = new vscode.TreeItem('Dismissed findings', vscode.TreeItemCollapsibleState.Collapsed);
      item.description = `${node.dismissals.length}`;
      item.tooltip = 'Findings you dismissed; click one to undo its dismissal.';
      item.iconPath = new vscode.ThemeIcon('eye-closed');
      return item;
    }
    if (isDismissal(node)) {
      const item = new vscode.TreeItem(node.message);
      const file = node.path.split('/').pop() ?? node.path;
      item.description = `${file}:${node.line}${node.reason ? ` — ${node.reason}` : ''}`;
      item.tooltip = `[${node.category}] ${node.message}\n${node.path}:${node.line}${node.reason ? `\nReason: ${node.reason}` : ''}\nClick to undo the dismissal.`;
      item.contextValue = 'kaizenDismissal';
      item.iconPath = new vscode.ThemeIcon('discard');
      item.command = { command: UNDISMISS, title: 'Undo dismiss', arguments: [node] };
      return item;
    }
    const item = new vscode.TreeItem(node.summary);
    item.description = `${node.kind} ×${node.occurrences}`;
    item.tooltip = `${node.summary}\n${node.kind}, seen ${node.occurrences}×${node.createdAt ? `, since ${node.createdAt}` : ''}`;
    item.contextValue = 'kaizenLearning';
    item.iconPath = new vscode.ThemeIcon('lightbulb');
    return item;
  }

  async getChildren(element?: Node): Promise<Node[]> {
    if (element && isGroup(element)) return element.dismissals;
    if (element || !this.server.isRunning) return [];
    const out: Node[] = [];
    try {
      const dismissals = parseDismissals(await this.server.execute('kaizen.listDismissals', { limit: 200 }));
      if (dismissals.length) out.push({ group: 'dismissals', dismissals });
    } catch (err) {
      this.log.error(`Dismissals: ${String(err)}`);
    }
    try {
      out.push(...parseLearnings(await this.server.execute('kaizen.listLearnings', { limit: 200 })));
    } catch (err) {
      this.log.error(`Learnings: ${String(err)}`);
    }
    return out;
  }

  async undismiss(arg: unknown): Promise<void> {
    if (typeof arg !== 'object' || arg === null || !('fingerprint' in arg) || !('id' in arg)) return;
    const d = arg as Dismissal;
    const ok = await vscode.window.showInformationMessage(
      `Undo the dismissal of "${d.message}" (${d.path}:${d.line})? Kaizen shows it again.`,
      { modal: true },
      'Undo dismiss',
    );
    if (ok !== 'Undo dismiss') return;
    try {
      await this.server.execute('kaizen.undismiss', { target: String(d.id) });
    } catch (err) {
      this.log.error(`Undismiss: ${String(err)}`);
    }
    this.refresh();
  }

  async delete(arg: unknown): Promise<void> {
    if (typeof arg !== 'object' || arg === null || !('id' in arg) || !('summary' in arg)) return;
    const learning = arg as Learning;
    const ok = await vscode.window.showWarningMessage(
      `Delete the learning "${learning.summary}"? Kaizen will stop using it in prompts.`,
      { modal: true },
      'Delete',
    );
    if (ok !== 'Delete') return;
    await this.server.execute('kaizen.deleteLearning', { id: learning.id });
    this.refresh();
  }

  dispose(): void {
    this.undoCommand.dispose();
    this.changed.dispose();
  }
}

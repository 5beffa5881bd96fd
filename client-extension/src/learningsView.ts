/** The "Kaizen Learnings" tree in the Explorer, from kaizen.listLearnings, with delete. */
import * as vscode from 'vscode';
import { Learning, parseLearnings } from './core/protocol';
import { KaizenServer } from './server';

export const LEARNINGS_VIEW = 'kaizen.learnings';

export class LearningsTree implements vscode.TreeDataProvider<Learning> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly server: KaizenServer,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  refresh(): void {
    this.changed.fire();
  }

  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${LEARNINGS_VIEW}.focus`);
    this.refresh();
  }

  getTreeItem(learning: Learning): vscode.TreeItem {
    const item = new vscode.TreeItem(learning.summary);
    item.description = `${learning.kind} ×${learning.occurrences}`;
    item.tooltip = `${learning.summary}\n${learning.kind}, seen ${learning.occurrences}×${learning.createdAt ? `, since ${learning.createdAt}` : ''}`;
    item.contextValue = 'kaizenLearning';
    item.iconPath = new vscode.ThemeIcon('lightbulb');
    return item;
  }

  async getChildren(element?: Learning): Promise<Learning[]> {
    if (element || !this.server.isRunning) return [];
    try {
      return parseLearnings(await this.server.execute('kaizen.listLearnings', { limit: 200 }));
    } catch (err) {
      this.log.error(`Learnings: ${String(err)}`);
      return [];
    }
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
    this.changed.dispose();
  }
}

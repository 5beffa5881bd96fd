/**
 * The "Kaizen Rules" tree in the Explorer: the project's rules (written and learned) from
 * `kaizen.rulesList`, and the rules Kaizen proposes from what it has seen, with Accept and
 * Reject (`kaizen.rulesAccept` / `kaizen.rulesReject`). The server owns the rules; this only
 * shows them and forwards the choice.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { firstLine, isUnknownCommand, parseRules, Proposal, proposalDescription, Rule, Rules } from './core/rules';
import { KaizenServer } from './server';

export const RULES_VIEW = 'kaizen.rules';

type Node = { group: 'rules' | 'proposals' } | { rule: Rule } | { proposal: Proposal };

export class RulesTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private current: Rules | undefined;
  readonly view: vscode.TreeView<Node>;

  constructor(
    private readonly server: KaizenServer,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.view = vscode.window.createTreeView(RULES_VIEW, { treeDataProvider: this });
  }

  refresh(): void {
    this.current = undefined;
    this.changed.fire();
  }

  dispose(): void {
    this.view.dispose();
    this.changed.dispose();
  }

  async accept(arg: unknown): Promise<void> {
    const proposal = proposalOf(arg);
    if (!proposal) return;
    await this.server.execute('kaizen.rulesAccept', { ids: [proposal.id] });
    void vscode.window.showInformationMessage(`Kaizen: rule added: ${firstLine(proposal.text)}`);
    this.refresh();
  }

  async reject(arg: unknown): Promise<void> {
    const proposal = proposalOf(arg);
    if (!proposal) return;
    const reason = await vscode.window.showInputBox({ title: 'Kaizen: Reject Rule', prompt: 'Why not? (optional)' });
    if (reason === undefined) return;
    await this.server.execute('kaizen.rulesReject', reason.trim() ? { ids: [proposal.id], reason: reason.trim() } : { ids: [proposal.id] });
    this.refresh();
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if ('group' in node) {
      const rules = this.current;
      const count = node.group === 'rules' ? rules?.rules.length ?? 0 : rules?.proposals.length ?? 0;
      const item = new vscode.TreeItem(
        `${node.group === 'rules' ? 'Rules' : 'Proposed'} (${count})`,
        count ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
      );
      item.contextValue = `kaizenRules.${node.group}`;
      return item;
    }
    if ('rule' in node) {
      const { rule } = node;
      const item = new vscode.TreeItem(firstLine(rule.text));
      item.description = [rule.origin, rule.paths.join(', '), rule.enabled ? '' : 'disabled'].filter(Boolean).join(' · ');
      item.tooltip = rule.text;
      item.contextValue = 'kaizenRule';
      const file = rule.file && this.current?.root ? path.resolve(this.current.root, rule.file) : rule.file;
      if (file) {
        const line = Math.max((rule.line ?? 1) - 1, 0);
        item.command = {
          command: 'vscode.open',
          title: 'Open',
          arguments: [vscode.Uri.file(file), { selection: new vscode.Range(line, 0, line, 0) }],
        };
      }
      return item;
    }
    const { proposal } = node;
    const item = new vscode.TreeItem(firstLine(proposal.text));
    item.description = proposalDescription(proposal);
    item.tooltip = proposal.text;
    item.contextValue = 'kaizenProposal';
    return item;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) {
      this.view.message = undefined;
      if (!this.server.isRunning) {
        this.view.message = 'The Kaizen server is not running.';
        return [];
      }
      try {
        this.current = parseRules(await this.server.execute('kaizen.rulesList', { includeProposals: true }));
      } catch (err) {
        this.current = undefined;
        this.view.message = isUnknownCommand(err)
          ? 'This Kaizen server has no rules yet: update it (Kaizen: Install Server).'
          : `Could not list the rules: ${err instanceof Error ? err.message : String(err)}`;
        this.log.warn(`kaizen.rulesList: ${String(err)}`);
        return [];
      }
      return [{ group: 'rules' }, { group: 'proposals' }];
    }
    if ('group' in node) {
      return node.group === 'rules'
        ? (this.current?.rules ?? []).map((rule) => ({ rule }))
        : (this.current?.proposals ?? []).map((proposal) => ({ proposal }));
    }
    return [];
  }
}

function proposalOf(arg: unknown): Proposal | undefined {
  return typeof arg === 'object' && arg !== null && 'proposal' in arg ? (arg as { proposal: Proposal }).proposal : undefined;
}

/**
 * The results of the server's rules commands (docs/protocol.md: `kaizen.rulesList`,
 * `kaizen.rulesAccept`, `kaizen.rulesReject`) as the "Kaizen Rules" view shows them. Pure: a
 * malformed answer loses the item, never the view.
 */

export interface Rule {
  id: string;
  origin: string;
  file: string | null;
  line: number | null;
  paths: string[];
  text: string;
  enabled: boolean;
}

export interface Proposal {
  id: string;
  kind: string;
  code: string | null;
  glob: string | null;
  text: string;
  accepted: number | null;
  dismissed: number | null;
}

export interface Rules {
  root: string | null;
  rules: Rule[];
  proposals: Proposal[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);
const objects = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

export function parseRules(value: unknown): Rules {
  if (!isObj(value)) throw new Error('kaizen.rulesList answered something that is not an object');
  const rules = objects(value.rules).flatMap((o): Rule[] => {
    const id = str(o.id) ?? (typeof o.id === 'number' ? String(o.id) : null);
    const text = str(o.text);
    if (id === null || text === null) return [];
    return [{
      id,
      origin: str(o.origin) ?? 'written',
      file: str(o.file),
      line: int(o.line),
      paths: Array.isArray(o.paths) ? o.paths.filter((p): p is string => typeof p === 'string') : [],
      text,
      enabled: o.enabled !== false,
    }];
  });
  const proposals = objects(value.proposals).flatMap((o): Proposal[] => {
    const id = str(o.id);
    const text = str(o.text);
    if (id === null || text === null) return [];
    const evidence = isObj(o.evidence) ? o.evidence : {};
    return [{
      id,
      kind: str(o.kind) ?? 'check',
      code: str(o.code),
      glob: str(o.glob),
      text,
      accepted: int(evidence.accepted),
      dismissed: int(evidence.dismissed),
    }];
  });
  return { root: str(value.root), rules, proposals };
}

/** One line for a rule or proposal in the tree: its first line of text. */
export function firstLine(text: string): string {
  return text.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? text;
}

export function proposalDescription(p: Proposal): string {
  const where = [p.kind, p.code, p.glob].filter(Boolean).join(' · ');
  const seen = p.accepted !== null || p.dismissed !== null ? ` (accepted ${p.accepted ?? 0}, dismissed ${p.dismissed ?? 0})` : '';
  return where + seen;
}

/** The server has no rules commands yet (an older server): say so instead of an error. */
export function isUnknownCommand(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /unknown command|is not defined|method not found/i.test(message);
}

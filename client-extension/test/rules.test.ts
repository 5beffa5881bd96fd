import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstLine, isUnknownCommand, parseRules, proposalDescription } from '../src/core/rules';

// the shape of docs/protocol.md's kaizen.rulesList with includeProposals
const LISTED = {
  root: '/proj',
  repository: 'acme/widgets',
  learnedFile: '.kaizen/rules/learned.md',
  rules: [
    { id: 'r1', origin: 'written', file: 'AGENTS.md', line: 12, paths: ['src/**'], category: 'bug', severity: 'error', action: 'check', enabled: true, text: 'Never divide by len() without a guard.\nEmpty lists happen.' },
    { id: 'r2', origin: 'learned', file: '.kaizen/rules/learned.md', line: 3, paths: [], enabled: false, text: 'Ignore E501 in tests/.' },
    { origin: 'written', text: 'no id: dropped' },
  ],
  proposals: [
    { id: 'p1', kind: 'suppress', code: 'E501', glob: 'tests/**', text: 'Do not report E501 in tests/', evidence: { accepted: 0, dismissed: 7 } },
    { id: 'p2', kind: 'check', text: 'Check for SQL built with f-strings', evidence: {} },
    'garbage',
  ],
  problems: [],
  rejected: [],
};

test('rules and proposals parse; malformed items are left out', () => {
  const rules = parseRules(LISTED);
  assert.equal(rules.root, '/proj');
  assert.deepEqual(rules.rules.map((r) => [r.id, r.origin, r.line, r.enabled]), [['r1', 'written', 12, true], ['r2', 'learned', 3, false]]);
  assert.deepEqual(rules.proposals.map((p) => p.id), ['p1', 'p2']);
  assert.equal(proposalDescription(rules.proposals[0]), 'suppress · E501 · tests/** (accepted 0, dismissed 7)');
  assert.equal(proposalDescription(rules.proposals[1]), 'check');
  assert.equal(firstLine(rules.rules[0].text), 'Never divide by len() without a guard.');
  assert.throws(() => parseRules([]), /not an object/);
  assert.deepEqual(parseRules({}), { root: null, rules: [], proposals: [] });
});

test('an older server without the rules commands is recognised', () => {
  assert.ok(isUnknownCommand(new Error("Command name 'kaizen.rulesList' is not defined"))); // pygls 2's answer
  assert.equal(isUnknownCommand(new Error('database is locked')), false);
});

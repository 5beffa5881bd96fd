"""The repository's ast-grep rules (.kaizen/rules/*.yml) in the static pre-pass: instant,
offline, with quick fixes, in the editor, ``kaizen check`` and SARIF, at no token cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from lsprotocol import types

from kaizen.core.document import Document
from kaizen.rules.astgrep import RuleBook, parse_file
from kaizen.rules.astgrep_run import rule_findings
from tests.conftest import model_options, server_env, wait_for_diagnostics

RULES = """\
id: strict-null
language: TypeScript
severity: warning
message: compare $A with === null (or say `== null` on purpose)
note: loose equality also matches undefined
rule:
  pattern: $A == null
fix: $A === null
---
id: no-print-call
language: python
rule:
  pattern: print($$$ARGS)
fix: log.info($$$ARGS)
message: use the logger
"""
BROKEN = """\
id: fine-before-the-error
language: ts
rule:
  pattern: console.log($$$)
message: no console.log
---
id: broken
language: ts
rule:
  pattern: [unclosed
"""
BAD_RULE = """\
id: bad-kind
language: typescript
rule:
  kind: no_such_node_kind
"""
TS = "export function f(x: number | null) {\n  if (x == null) return 0;\n  return x;\n}\n"


def write_rules(project: Path, **files: str) -> Path:
    folder = project / ".kaizen" / "rules"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_rules_match_and_fill_in_fix_and_message(project: Path):
    folder = write_rules(project, **{"team.yml": RULES})
    rules = RuleBook().load(project)
    assert [r.id for r in rules.rules] == ["strict-null", "no-print-call"] and not rules.problems
    ts = Document(uri="file:///x.ts", path=project / "a.ts", text=TS)
    [found] = rule_findings(ts, rules.rules)
    assert (found.code, found.category, found.origin) == ("strict-null", "strict-null", "ast-grep")
    assert found.message == "compare x with === null (or say `== null` on purpose)"
    assert (found.start_line, found.start_col, found.end_col) == (2, 6, 15)
    [edit] = found.edits
    assert (edit.start_line, edit.start_col, edit.end_col, edit.new_text) == (
        1,
        6,
        15,
        "x === null",
    )
    assert found.code_url == (folder / "team.yml").resolve().as_uri()
    py = Document(uri="file:///m.py", path=project / "m.py", text="print('a', b)\n")
    [call] = rule_findings(py, rules.rules)
    assert call.edits[0].new_text == "log.info('a', b)"
    tsx = Document(uri="file:///x.tsx", path=project / "a.tsx", text=TS)
    assert rule_findings(tsx, rules.rules) == []  # a TypeScript rule, as ast-grep: not TSX


def test_a_broken_file_names_file_and_line_and_the_other_rules_run(project: Path):
    write_rules(project, **{"a.yml": BROKEN, "b.yml": BAD_RULE, "team.yml": RULES})
    rules = RuleBook().load(project)
    assert [r.id for r in rules.rules] == ["fine-before-the-error", "strict-null", "no-print-call"]
    problems = sorted(str(p) for p in rules.problems)
    assert len(problems) == 2
    assert problems[0].startswith(f"{project / '.kaizen/rules/a.yml'}:10: invalid YAML")
    assert problems[1].startswith(f"{project / '.kaizen/rules/b.yml'}:3: rule bad-kind: ")
    assert "no_such_node_kind" in problems[1]


def test_rule_files_are_reread_when_they_change(project: Path):
    folder = write_rules(project, **{"team.yml": RULES})
    book = RuleBook()
    first = book.load(project)
    assert book.load(project) == first  # unchanged: the same parse, not a re-read
    (folder / "team.yml").write_text(RULES.replace("strict-null", "eqeq-null"))
    again = book.load(project)
    assert again.digest != first.digest and again.rules[0].id == "eqeq-null"
    (folder / "team.yml").unlink()
    assert book.load(project).rules == []


def test_unknown_language_and_missing_fields_are_problems(tmp_path: Path):
    text = "id: a\nlanguage: cobol\nrule: {pattern: x}\n---\nlanguage: go\nrule: {pattern: x}\n"
    rules, problems = parse_file(tmp_path / "r.yml", text)
    assert rules == []
    assert [(p.line, p.message) for p in problems] == [
        (2, "rule a: unknown language 'cobol'"),
        (5, "the rule has no id"),
    ]


async def test_rule_finding_and_quick_fix_in_the_first_paint_without_tokens(
    start_client, scripted, project: Path
):
    write_rules(project, **{"team.yml": RULES, "broken.yml": BROKEN})
    (project / "other.ts").write_text("let y = 1;\nif (y == null) {}\n")
    client = await start_client(
        model_options(scripted, staticPrepass={"enabled": True, "only": True})
    )
    path = project / "a.ts"
    path.write_text(TS)
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="typescript", version=1, text=TS
            )
        )
    )
    diagnostics = await wait_for_diagnostics(
        client, uri, lambda d: any(x.code == "strict-null" for x in d), final=False
    )
    rule = next(d for d in diagnostics if d.code == "strict-null")
    assert rule.source == "kaizen (ast-grep)"
    assert rule.range == types.Range(start=types.Position(1, 6), end=types.Position(1, 15))
    # the broken file is one message naming file and line; its other rules still ran
    shown = [m.message for m in client.messages if "broken.yml" in m.message]
    assert len(shown) == 1 and "broken.yml:10" in shown[0]

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rule.range,
            context=types.CodeActionContext(diagnostics=[rule]),
        )
    )
    fix = next(a for a in actions if a.edit is not None and a.diagnostics[0].code == "strict-null")
    [edit] = fix.edit.changes[uri]
    assert edit.new_text == "x === null" and edit.range == rule.range

    # accepting it offers the same rule's fix in the workspace's other TypeScript file
    fixed = TS.replace("x == null", "x === null")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
        )
    )
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=fix.command.command, arguments=fix.command.arguments)
    )
    assert answer["similar"] == 1
    assert scripted.requests == []  # no model call, no token


def check(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kaizen", "check", "--static-only", *args],
        capture_output=True,
        text=True,
        env=server_env(home),
        cwd=cwd,
        timeout=120,
    )


def test_kaizen_check_reports_rule_findings_with_fixes_in_json_and_sarif(
    kaizen_home: Path, project: Path
):
    write_rules(project, **{"team.yml": RULES, "b.yml": BAD_RULE})
    (project / "a.ts").write_text(TS)
    proc = check(["--format", "json", "a.ts"], kaizen_home, project)
    assert proc.returncode == 1, proc.stderr
    [finding] = [f for f in json.loads(proc.stdout)["findings"] if f["origin"] == "ast-grep"]
    assert finding["code"] == "strict-null" and finding["line"] == 2
    assert finding["fix"] == [
        {"line": 2, "column": 7, "endLine": 2, "endColumn": 16, "newText": "x === null"}
    ]
    assert "b.yml:3" in proc.stderr and "bad-kind" in proc.stderr

    proc = check(["--format", "sarif", "a.ts"], kaizen_home, project)
    log = json.loads(proc.stdout)
    schema = json.loads((Path(__file__).parent / "fixtures/sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(log, schema)
    [result] = [r for r in log["runs"][0]["results"] if r["ruleId"] == "strict-null"]
    [change] = result["fixes"][0]["artifactChanges"]
    [replacement] = change["replacements"]
    assert replacement["insertedContent"]["text"] == "x === null"
    assert replacement["deletedRegion"]["startColumn"] == 7


def test_a_dismissed_rule_finding_stays_dismissed_and_the_linters_stay(
    kaizen_home: Path, project: Path
):
    write_rules(project, **{"team.yml": RULES})
    (project / "a.ts").write_text(TS)
    first = json.loads(check(["--format", "json", "a.ts"], kaizen_home, project).stdout)
    by_code = {f["code"]: f for f in first["findings"]}
    assert set(by_code) == {"strict-null", "eslint(eqeqeq)"}  # the rule and oxlint, one span
    dismissed = subprocess.run(
        [sys.executable, "-m", "kaizen", "dismiss", by_code["strict-null"]["fingerprint"],
         "--reason", "null checks are deliberate here"],
        capture_output=True, text=True, env=server_env(kaizen_home), cwd=project, timeout=120,
    )  # fmt: skip
    assert dismissed.returncode == 0, dismissed.stderr
    again = json.loads(check(["--format", "json", "a.ts"], kaizen_home, project).stdout)
    assert [f["code"] for f in again["findings"]] == ["eslint(eqeqeq)"]


def test_a_promoted_rule_runs_as_written(tmp_path: Path):
    """The shape rules.promotion writes: a pattern inside a context with a selector (Go),
    a fix, and ``metadata.source: promoted``."""
    text = (
        "id: learned-errors-new-abc123\nlanguage: go\nseverity: warning\n"
        "message: Learned from 3 accepted fixes\n"
        "rule:\n  pattern:\n    context: func _() { errors.New($A) }\n"
        "    selector: call_expression\n"
        "fix: fmt.Errorf($A)\nmetadata:\n  source: promoted\n  examples: 3\n"
    )
    [rule], problems = parse_file(tmp_path / "learned.yml", text)
    assert problems == [] and rule.origin == "promoted"
    go = 'package main\n\nfunc f() error {\n\treturn errors.New("bad")\n}\n'
    doc = Document(uri="file:///a.go", path=tmp_path / "a.go", text=go)
    [found] = rule_findings(doc, [rule])
    assert found.start_line == 4 and found.edits[0].new_text == 'fmt.Errorf("bad")'

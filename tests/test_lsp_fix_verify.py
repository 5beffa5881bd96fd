"""Fix verification in the editor (issue 24): an empty replacement the model did not mark as
a deletion is no quick fix (the diagnostic stays, the model's record counts an invalid
answer); a marked deletion is offered under a "Delete ..." title. The real server, the real
litellm, the scripted model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lsprotocol import types

from tests.conftest import model_options, open_document, wait_for_diagnostics

MEAN = "def mean(xs):\n    return sum(xs) / len(xs)\n\n\nprint(mean([]))\n"
DEBUG = "def mean(xs):\n    print('debug', xs)\n    return sum(xs) / len(xs)\n"


def issue(line: int, message: str, snippet: str) -> dict:
    return {"line": line, "severity": "warning", "category": "bug", "message": message,
            "rationale": "", "snippet": snippet}


async def actions_for(client, uri: str, d: types.Diagnostic) -> list[types.CodeAction]:
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )


async def test_empty_replacement_is_a_deletion_only_when_marked(
    start_client, scripted, project: Path, kaizen_home: Path
):
    scripted.enqueue(
        "issue_detector",
        {"issues": [issue(2, "Division by zero on an empty list", "sum(xs) / len(xs)")]},
        {"issues": [issue(2, "A debug print is left in", "print('debug', xs)")]},
    )
    scripted.enqueue(
        "fix_generator",
        # what issue 24 saw: "newText": "" for a finding that was not about dead code
        {"fixes": [{"issue": 1, "start_line": 2, "end_line": 2, "replacement": "",
                    "explanation": "Guard empty input"}]},
        {"fixes": [{"issue": 1, "start_line": 2, "end_line": 2, "replacement": "",
                    "explanation": "Remove the debug print", "delete": True}]},
    )
    client = await start_client(model_options(scripted))

    uri = open_document(client, project / "stats.py", MEAN)
    [d] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert d.message.startswith("Division by zero") and d.data["hasFix"] is False
    actions = await actions_for(client, uri, d)
    assert [a for a in actions if a.edit is not None] == []  # no fix offered
    assert any(a.command and a.command.command == "kaizen.dismiss" for a in actions)
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    [(invalid,)] = db.execute(
        "select invalid from model_performance where task_type = 'fix_generator'"
    ).fetchall()
    assert invalid == 1  # counted against the model, like an ungrounded finding

    uri = open_document(client, project / "debug.py", DEBUG)
    [d] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert d.data["hasFix"] is True
    [fix] = [a for a in await actions_for(client, uri, d) if a.edit is not None]
    assert fix.title.startswith("Delete line 2"), fix.title
    assert "Remove the debug print" in fix.title
    [edit] = fix.edit.changes[uri]
    assert edit.new_text == "" and edit.range == types.Range(
        start=types.Position(1, 0), end=types.Position(2, 0)
    )
    [(invalid,)] = db.execute(
        "select invalid from model_performance where task_type = 'fix_generator'"
    ).fetchall()
    assert invalid == 1  # the marked deletion was a valid answer


def test_check_keeps_the_finding_and_drops_the_broken_fix(scripted, kaizen_home: Path, project: Path):
    """`kaizen check`: issue 24's TypeScript case. The model answers an empty replacement
    for the `if` (written `!charset` here: oxlint's eqeqeq would report `== null` itself); the finding is reported without a fix, the drop is logged
    and counted for the model, and a good fix in the same answer is kept."""
    import json

    from tests.test_cli import kaizen

    code = (
        "export function charsetOf(header: string | null): string {\n"
        "  const charset = header?.split(';')[1];\n"
        "  if (!charset) {\n"
        "    return 'utf-8';\n"
        "  }\n"
        "  return charset.trim();\n"
        "}\n"
    )
    (project / "charset.ts").write_text(code)
    scripted.enqueue("issue_detector", {"issues": [
        issue(3, "A header without charset falls back silently", "if (!charset) {"),
        issue(6, "The charset keeps its quotes", "return charset.trim();"),
    ]})
    scripted.enqueue("fix_generator", {"fixes": [
        {"issue": 1, "start_line": 3, "end_line": 3, "replacement": "", "explanation": "x"},
        {"issue": 2, "start_line": 6, "end_line": 6,
         "replacement": "  return charset.trim().replace(/\"/g, '');", "explanation": "Strip quotes"},
    ]})
    proc = kaizen(["-v", "check", "--format", "json", "charset.ts"], scripted, kaizen_home, project)
    assert proc.returncode == 1, proc.stderr
    findings = {f["line"]: f for f in json.loads(proc.stdout)["findings"]}
    assert set(findings) == {3, 6}
    assert findings[3]["fix"] is None  # shown, without the fix that would delete the `if`
    assert findings[6]["fix"][0]["newText"].startswith("  return charset.trim().replace(")
    assert "dropped fix-deletion" in proc.stderr
    metrics = json.loads(kaizen(["metrics", "--format", "json"], scripted, kaizen_home, project).stdout)
    [row] = [r for r in metrics["rankings"]["fix_generator"] if r["model"] == "openai/scripted"]
    assert row["invalid"] == 1

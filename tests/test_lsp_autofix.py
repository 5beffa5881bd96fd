"""The foundation, end to end: the real server, the real litellm, a scripted model over HTTP."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from lsprotocol import types

from tests.conftest import model_options, open_document, wait_for_diagnostics
from tests.fixtures.editing import edit_and_save

BUGGY = "def mean(xs):\n    return sum(xs) / len(xs)\n\n\nprint(mean([]))\n"
EMOJI = 'label = "😋😋"; ratio = total / count\n'


def issue(line: int, message: str, snippet: str | None = None, **extra: object) -> dict:
    item = {
        "line": line,
        "severity": "error",
        "category": "bug",
        "message": message,
        "rationale": "it crashes",
    }
    if snippet:
        item["snippet"] = snippet
    item.update(extra)
    return item


async def test_diagnostic_and_quick_fix(start_client, scripted, project: Path, kaizen_home: Path):
    scripted.enqueue(
        "issue_detector",
        {"issues": [issue(2, "Division by zero on an empty list", "sum(xs) / len(xs)")]},
    )
    scripted.enqueue(
        "fix_generator",
        {
            "fixes": [
                {
                    "issue": 1,
                    "start_line": 2,
                    "end_line": 2,
                    "replacement": "    return sum(xs) / len(xs) if xs else 0.0",
                    "explanation": "Guard empty input",
                }
            ]
        },
    )
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "stats.py", BUGGY)
    diagnostics = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    d = diagnostics[0]
    assert d.source == "kaizen" and d.code == "bug"
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.range == types.Range(start=types.Position(1, 11), end=types.Position(1, 28))
    assert d.data["model"] == "openai/scripted-model"

    # the prompt the model received: numbered code, schema name, no leftovers of the template
    prompt = scripted.prompts_for("issue_detector")[0]
    assert "2 |     return sum(xs) / len(xs)" in prompt and "$code" not in prompt
    assert "Division by zero" in scripted.prompts_for("fix_generator")[0]

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    fix = next(a for a in actions if a.edit is not None)
    edits = fix.edit.changes[uri]
    assert len(edits) == 1
    assert edits[0].range == types.Range(start=types.Position(1, 0), end=types.Position(2, 0))
    assert edits[0].new_text == "    return sum(xs) / len(xs) if xs else 0.0\n"
    assert any(a.command and a.command.command == "kaizen.dismiss" for a in actions)

    # accepting runs the command the editor would run after applying the edit
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=fix.command.command, arguments=fix.command.arguments)
    )
    await wait_for_diagnostics(client, uri, lambda d: d == [])
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    assert db.execute("select status from findings").fetchall() == [("accepted",)]
    run = db.execute(
        "select status, provider, model, prompt_tokens > 0, latency_ms > 0 from runs"
    ).fetchone()
    assert run == ("succeeded", "openai", "openai/scripted-model", 1, 1)


async def test_utf16_ranges_with_emoji(start_client, scripted, project: Path):
    scripted.enqueue("issue_detector", {"issues": [issue(1, "count may be zero", "total / count")]})
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "emoji.py", EMOJI)
    [d] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    # `label = "` is 9 code points, each emoji one code point but two UTF-16 units: the
    # snippet starts at code point 22, which is UTF-16 unit 24.
    assert d.range.start == types.Position(0, 24)
    assert d.range.end == types.Position(0, 37)


async def test_stale_run_never_overwrites_newer_diagnostics(
    start_client, scripted, project: Path, kaizen_home: Path
):
    slow = {"_delay": 1.5, "_then": {"issues": [issue(1, "from the OLD version")]}}
    scripted.enqueue("issue_detector", slow, {"issues": [issue(1, "from the NEW version")]})
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "a.py", "x = 1\n")
    await asyncio.to_thread(scripted.wait_for_requests, 1)
    edit_and_save(client, uri, 2, "x = 2\n")
    diagnostics = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert diagnostics[0].message == "from the NEW version"
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    statuses = [row[0] for row in db.execute("select status from runs order by id")]
    assert statuses[0] in ("cancelled", "stale") and statuses[-1] == "succeeded"
    assert [d.message for d in client.diagnostics[uri]] == ["from the NEW version"]


async def test_invalid_answers_are_failed_attempts(
    start_client, scripted, project: Path, kaizen_home: Path
):
    scripted.enqueue(
        "issue_detector",
        "this is not JSON at all",
        {"issues": [issue(99, "out of range"), issue(1, "real")]},
    )
    client = await start_client(model_options(scripted))
    bad = open_document(client, project / "bad.py", "a = 1\n")
    await wait_for_diagnostics(client, bad, lambda d: d == [])
    good = open_document(client, project / "good.py", "b = 2\n")
    [d] = await wait_for_diagnostics(client, good, lambda d: len(d) == 1)
    assert d.message == "real"  # line 99 dropped, the server kept serving
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    calls = db.execute("select status, error from model_calls order by id").fetchall()
    assert calls[0][0] == "invalid" and "not JSON" in calls[0][1]
    runs = db.execute("select status from runs order by id").fetchall()
    assert runs[0] == ("failed",)
    assert any("failed" in m.message for m in client.messages)

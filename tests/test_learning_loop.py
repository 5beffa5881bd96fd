"""The closed learning loop end to end: what the user does changes what Kaizen says next."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from sqlalchemy import text

from kaizen.memory.db import create_db_engine
from tests.conftest import learned, model_options, open_document, wait_for_diagnostics
from tests.fixtures.editing import edit_and_save

# Every test runs on the per-user SQLite file and on a team PostgreSQL (pgvector) database.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read what the server stored, on either backend."""
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()

A = "Mutable default argument is shared between calls"
FILE_1 = "def add(item, bucket=[]):\n    bucket.append(item)\n    return bucket\n"
FILE_1_EDITED = "def add(item, bucket=[]):  # shared on purpose: a cache\n    bucket.append(item)\n    return bucket\n"


def issue(line: int, message: str, category: str = "bug") -> dict:
    return {"line": line, "severity": "warning", "category": category, "message": message,
            "rationale": "the default list is created once"}


async def code_actions(client, uri, d):
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=d.range,
        context=types.CodeActionContext(diagnostics=[d])))


async def execute(client, command: types.Command):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments))


async def test_dismissed_finding_is_learned_and_not_shown_again(
    start_client, scripted, project: Path, database_url: str
):
    scripted.enqueue("issue_detector", {"issues": [issue(1, A)]})
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "bucket.py", FILE_1)
    [d] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    dismiss = next(a for a in await code_actions(client, uri, d)
                   if a.command and a.command.command == "kaizen.dismiss")
    dismiss.command.arguments[0]["reason"] = "shared on purpose"
    await execute(client, dismiss.command)
    await wait_for_diagnostics(client, uri, lambda d: d == [])

    # run 2 on the edited file: the model repeats A (the line changed, so the fingerprint
    # did too) and reports a new issue B
    scripted.enqueue("issue_detector", {"issues": [issue(1, A), issue(2, "append mutates the caller's list")]})
    edit_and_save(client, uri, 2, FILE_1_EDITED)
    diagnostics = await wait_for_diagnostics(client, uri, lambda d: len(d) >= 1)
    assert [x.message.split(" (informed")[0] for x in diagnostics] == ["append mutates the caller's list"]
    assert diagnostics[0].data["learnings"], "the diagnostic says learnings informed it"
    assert "informed by" in diagnostics[0].message

    prompt = scripted.prompts_for("issue_detector")[1]
    assert "Historical learnings" in prompt
    assert f"Dismissed by the user: [bug] {A} (reason: shared on purpose)" in prompt

    [(used,)] = query(database_url, "select insight_ids from runs order by id desc limit 1")
    [(rejected_id,)] = query(
        database_url, "select id from workflow_insights where kind = 'finding_rejected'")
    assert rejected_id in (json.loads(used) if isinstance(used, str) else used)


async def test_accepted_fix_reaches_the_fix_prompt_for_another_file(
    start_client, scripted, project: Path
):
    scripted.enqueue("issue_detector", {"issues": [issue(1, A)]})
    scripted.enqueue("fix_generator", {"fixes": [{
        "issue": 1, "start_line": 1, "end_line": 2,
        "replacement": "def add(item, bucket=None):\n    bucket = [] if bucket is None else bucket",
        "explanation": "Default to None and create the list per call"}]})
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "first.py", FILE_1)
    [d] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    fix = next(a for a in await code_actions(client, uri, d) if a.edit is not None)
    await execute(client, fix.command)
    await wait_for_diagnostics(client, uri, lambda d: d == [])

    scripted.enqueue("issue_detector", {"issues": [issue(1, "Mutable default argument in collect")]})
    other = open_document(client, project / "pkg" / "second.py", "def collect(x, seen=[]):\n    return seen\n")
    await wait_for_diagnostics(client, other, lambda d: len(d) == 1)
    fix_prompt = scripted.prompts_for("fix_generator")[-1]
    assert "Fix accepted by the user" in fix_prompt
    assert "Default to None and create the list per call" in fix_prompt or A in fix_prompt
    assert "bucket = [] if bucket is None else bucket" in fix_prompt


async def test_repeated_insights_are_merged(start_client, scripted, project: Path, database_url: str):
    scripted.set_default("issue_detector", {"issues": [issue(1, A)]})
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "bucket.py", FILE_1)
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    for _ in range(3):
        client.diagnostics.pop(uri, None)
        client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    await learned(client)
    rows = query(database_url, "select kind, occurrences from workflow_insights order by id")
    assert ("issue_found", 4) in rows
    assert ("ignored", 1) in rows  # shown three times with no reaction
    assert query(database_url, "select times_shown from findings") == [(4,)]

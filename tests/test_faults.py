"""Faults and bad input: the server keeps serving, says what happened once, loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path

from lsprotocol import types

from kaizen.memory.store import Store
from tests.conftest import model_options, open_document, server_env, wait_for_diagnostics

GOOD = {"issues": [{"line": 1, "severity": "warning", "category": "bug", "message": "real"}]}


def issue(line, message="m", end_line=None):
    item = {"line": line, "severity": "warning", "category": "bug", "message": message}
    if end_line is not None:
        item["end_line"] = end_line
    return item


def calls(home: Path) -> list[tuple]:
    db = sqlite3.connect(home / "kaizen.db")
    return db.execute("select status, error from model_calls order by id").fetchall()


async def test_rate_limit_with_retry_after_is_retried(start_client, scripted, project, kaizen_home):
    scripted.enqueue(
        "issue_detector",
        {
            "_status": 429,
            "_headers": {"Retry-After": "1"},
            "_body": {"error": {"message": "slow down"}},
        },
        GOOD,
    )
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "a.py", "x = 1\n")
    [d] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert d.message == "real"
    assert len(scripted.requests_for("issue_detector")) == 2  # litellm's Router retried


async def test_garbage_answers_each_fail_cleanly(start_client, scripted, project, kaizen_home):
    answers = [
        '{"issues": [{"line": 1, "severity": "warn',  # truncated
        {"problems": []},  # wrong shape
        {"issues": [{"line": "first", "message": 3}]},  # wrong types
        "x" * 250_000,  # enormous
        {"_status": 500, "_body": {"error": {"message": "boom"}}},
    ]
    client = await start_client(model_options(scripted, requestTimeoutS=5))
    for i, answer in enumerate(answers):
        # the 500 is retried by the Router: queue it for every attempt
        scripted.enqueue(
            "issue_detector",
            *([answer] * (3 if isinstance(answer, dict) and "_status" in answer else 1)),
        )
        uri = open_document(client, project / f"bad{i}.py", f"v = {i}\n")
        assert await wait_for_diagnostics(client, uri) == []
    scripted.enqueue("issue_detector", GOOD)
    uri = open_document(client, project / "good.py", "y = 2\n")
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    statuses = [c[0] for c in calls(kaizen_home)]
    assert statuses == ["invalid", "invalid", "invalid", "invalid", "error", "ok", "ok"]
    errors = [c[1] for c in calls(kaizen_home)]
    assert "not JSON" in errors[0] and "issues" in errors[1] and "too large" in errors[3]
    # one message for the repeated failure kind, not one per file
    shown = [m.message for m in client.messages if "failed" in m.message]
    assert 1 <= len(shown) <= 3


async def test_timeout_and_connection_refused(start_client, scripted, project, kaizen_home):
    scripted.enqueue("issue_detector", *[{"_delay": 3, "_then": GOOD}] * 3)
    client = await start_client(model_options(scripted, requestTimeoutS=0.5))
    uri = open_document(client, project / "slow.py", "x = 1\n")
    assert await wait_for_diagnostics(client, uri, timeout=30) == []
    error = calls(kaizen_home)[0][1]
    assert "Timeout" in error or "timed out" in error.lower()

    options = model_options(scripted)
    options["autofix"]["apiBase"] = "http://127.0.0.1:9/v1"  # nothing listens on port 9
    refused = await start_client(options)
    uri2 = open_document(refused, project / "refused.py", "x = 1\n")
    assert await wait_for_diagnostics(refused, uri2, timeout=30) == []
    assert any(
        "Connection" in (c[1] or "") or "connect" in (c[1] or "").lower()
        for c in calls(kaizen_home)[1:]
    )
    assert any("failed" in m.message for m in refused.messages)


async def test_ranges_outside_the_document_are_dropped(start_client, scripted, project):
    scripted.enqueue(
        "issue_detector",
        {
            "issues": [
                issue(0),
                issue(-3),
                issue(10**6),
                issue(2, "kept, clamped", end_line=99),
                issue(1, "kept"),
            ]
        },
    )
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "r.py", "a = 1\nb = 2\n")
    diagnostics = await wait_for_diagnostics(client, uri, lambda d: len(d) == 2)
    for d in diagnostics:
        assert 0 <= d.range.start.line <= d.range.end.line <= 2


async def test_binary_empty_huge_and_long_lines(start_client, scripted, project):
    client = await start_client(model_options(scripted, maxFileBytes=2000))
    binary = open_document(client, project / "blob.py", "abc\x00def\n")
    assert await wait_for_diagnostics(client, binary) == []
    empty = open_document(client, project / "empty.py", "")
    assert await wait_for_diagnostics(client, empty) == []
    huge = open_document(client, project / "huge.py", "x = 1\n" * 1000)
    assert await wait_for_diagnostics(client, huge) == []
    assert scripted.requests_for("issue_detector") == []
    too_large = [m for m in client.messages if "kaizen.maxFileBytes (2,000 bytes)" in m.message]
    assert len(too_large) == 1  # one message, not a notice and a failure
    assert any("looks binary" in m.message for m in client.messages)

    scripted.enqueue("issue_detector", GOOD)
    long_line = open_document(client, project / "long.py", "data = '" + "z" * 1500 + "'\n")
    await wait_for_diagnostics(client, long_line, lambda d: len(d) == 1)
    prompt = scripted.prompts_for("issue_detector")[0]
    assert "more characters]" in prompt and "z" * 1001 not in prompt


async def test_crlf_and_emoji_fix(start_client, scripted, project):
    text = "def f(xs):\r\n    s = '😀'; return sum(xs) / len(xs)\r\n"
    scripted.enqueue("issue_detector", {"issues": [issue(2, "empty list")]})
    scripted.enqueue(
        "fix_generator",
        {
            "fixes": [
                {
                    "issue": 1,
                    "start_line": 2,
                    "end_line": 2,
                    "replacement": "    s = '😀'\n    return sum(xs) / len(xs) if xs else 0",
                }
            ]
        },
    )
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "crlf.py", text)
    [d] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert d.range.start == types.Position(1, 4)
    assert d.range.end == types.Position(1, 38)  # 37 code points; the emoji is 2 UTF-16 units
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    [edit] = next(a for a in actions if a.edit).edit.changes[uri]
    assert edit.new_text == "    s = '😀'\r\n    return sum(xs) / len(xs) if xs else 0\r\n"
    assert edit.range == types.Range(start=types.Position(1, 0), end=types.Position(2, 0))


async def test_close_during_a_run(start_client, scripted, project):
    scripted.enqueue("issue_detector", {"_delay": 1.0, "_then": GOOD})
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "closing.py", "x = 1\n")
    await asyncio.to_thread(scripted.wait_for_requests, 1)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await wait_for_diagnostics(client, uri) == []
    # the server is still serving
    scripted.enqueue("issue_detector", GOOD)
    other = open_document(client, project / "other.py", "y = 1\n")
    await wait_for_diagnostics(client, other, lambda d: len(d) == 1)
    assert list(client.diagnostics[uri]) == []


async def test_locked_database_does_not_stop_reviews(start_client, scripted, project, kaizen_home):
    env = server_env(kaizen_home, KAIZEN_DB_BUSY_TIMEOUT_MS="300")
    client = await start_client(model_options(scripted), env=env)
    scripted.enqueue("issue_detector", GOOD)
    first = open_document(client, project / "one.py", "x = 1\n")
    await wait_for_diagnostics(client, first, lambda d: len(d) == 1)
    locker = sqlite3.connect(kaizen_home / "kaizen.db", timeout=0.1, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        scripted.enqueue("issue_detector", GOOD)
        second = open_document(client, project / "two.py", "y = 1\n")
        [d] = await wait_for_diagnostics(client, second, lambda d: len(d) == 1)
        assert d.message.startswith("real")
        assert any("could not write to its database" in m.message for m in client.messages)
    finally:
        locker.execute("ROLLBACK")
        locker.close()


async def test_unwritable_database_location(start_client, scripted, project, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    client = await start_client(model_options(scripted), env=server_env(blocker / "home"))
    scripted.enqueue("issue_detector", GOOD)
    uri = open_document(client, project / "ro.py", "x = 1\n")
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert any("running without memory" in m.message for m in client.messages)


async def test_corrupted_database_is_moved_aside(start_client, scripted, project, kaizen_home):
    (kaizen_home / "kaizen.db").write_bytes(b"this is not sqlite " * 100)
    client = await start_client(model_options(scripted))
    scripted.enqueue("issue_detector", GOOD)
    uri = open_document(client, project / "c.py", "x = 1\n")
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    moved = list(kaizen_home.glob("kaizen.db.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"this is not sqlite")
    assert any("moved aside" in m.message for m in client.messages)
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    assert db.execute("select count(*) from runs").fetchone() == (1,)


async def test_crash_mid_run_is_marked_failed_on_next_start(
    start_client, scripted, project, kaizen_home
):
    scripted.enqueue("issue_detector", {"_delay": 30, "_then": GOOD})
    client = await start_client(model_options(scripted))
    open_document(client, project / "crash.py", "x = 1\n")
    await asyncio.to_thread(scripted.wait_for_requests, 1)
    os.kill(client._server.pid, signal.SIGKILL)
    await client._server.wait()
    with sqlite3.connect(kaizen_home / "kaizen.db") as db:
        [(status,)] = db.execute("select status from runs").fetchall()
    assert status not in ("succeeded", "failed")  # left mid-run by the crash
    Store.open(kaizen_home / "kaizen.db").close()
    with sqlite3.connect(kaizen_home / "kaizen.db") as db:
        [(status, error)] = db.execute("select status, error from runs").fetchall()
    assert status == "failed" and "interrupted" in error

"""Routing end to end: the real server, real litellm, two scripted model endpoints on
different ports with different behaviour, and the record the server keeps in its database."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from kaizen.memory.store import Store
from kaizen.tools import operations as tools
from tests.conftest import ROOT, open_document, server_env, wait_for_diagnostics
from tests.fixtures.scripted_model import ScriptedModel

A, B = "openai/model-a", "openai/model-b"


@pytest.fixture
def pair() -> Iterator[tuple[ScriptedModel, ScriptedModel]]:
    with ScriptedModel() as a, ScriptedModel() as b:
        yield a, b


def layered(a: ScriptedModel, b: ScriptedModel, **extra: Any) -> dict[str, Any]:
    """Both models in the balanced layer, each with its own endpoint; no explicit choice."""
    entry = {"apiKey": "sk-test"}
    options: dict[str, Any] = {
        "layers": {
            "balanced": [
                {"model": A, "apiBase": a.url, **entry},
                {"model": B, "apiBase": b.url, **entry},
            ]
        },
        "staticPrepass": {"enabled": False},
        "localModel": False,
    }
    options.update(extra)
    return options


def says(message: str) -> dict[str, Any]:
    return {"issues": [{"line": 1, "severity": "warning", "category": "bug", "message": message}]}


def env(home: Path) -> dict[str, str]:
    return server_env(home, KAIZEN_ROUTER_SEED="7", OPENAI_API_KEY="sk-test")


def said(diagnostics: list[types.Diagnostic]) -> list[str]:
    """Messages without the learning loop's "(informed by N past learnings)" suffix."""
    return [d.message.split(" (informed by")[0] for d in diagnostics]


async def review(client, project: Path, name: str, expect: str) -> None:
    uri = open_document(client, project / name, f"value = {len(name)}\n")
    try:
        await wait_for_diagnostics(client, uri, lambda d: said(d) == [expect])
    except TimeoutError:
        seen = [x.message for x in client.diagnostics.get(uri, [])]
        shown = [m.message for m in client.messages]
        raise AssertionError(f"{name}: wanted [{expect!r}], got {seen}; messages {shown}") from None


def db_rows(home: Path, sql: str) -> list[tuple]:
    return sqlite3.connect(home / "kaizen.db").execute(sql).fetchall()


async def test_failing_model_falls_back_and_is_recorded(
    start_client, pair, project: Path, kaizen_home: Path
):
    a, b = pair
    a.set_default("issue_detector", {"_status": 500})
    b.set_default("issue_detector", says("from B"))
    client = await start_client(layered(a, b), env=env(kaizen_home))
    for i in range(2):  # litellm retries each failing call (with backoff) before giving up
        await review(client, project, f"f{i}.py", "from B")

    perf = dict(
        (row[0], row[1:])
        for row in db_rows(
            kaizen_home,
            "select model, calls, successes, errors, invalid from model_performance "
            "where task_type = 'issue_detector'",
        )
    )
    assert perf[B] == (2, 2.0, 0, 0)
    calls, successes, errors, invalid = perf[A]
    assert calls >= 1 and successes == 0 and errors == calls and invalid == 0
    patterns = db_rows(kaizen_home, "select category, pattern, occurrences from bug_patterns")
    categories = {category for category, _, _ in patterns}
    assert "model-http-500" in categories
    assert all(pattern.startswith(f"issue_detector via {A}: ") for _, pattern, _ in patterns)
    assert sum(n for _, _, n in patterns) == calls
    assert db_rows(kaizen_home, "select status from runs") == [("succeeded",)] * 2
    answered = db_rows(
        kaizen_home, "select model from model_calls where task = 'issue_detector' and status = 'ok'"
    )
    assert answered == [(B,)] * 2


async def test_a_model_that_keeps_returning_invalid_json_stops_being_chosen(
    start_client, pair, project: Path, kaizen_home: Path, tmp_path: Path
):
    a, b = pair
    a.set_default("issue_detector", "Sure! I reviewed it and found nothing worth reporting.")
    b.set_default("issue_detector", says("from B"))
    client = await start_client(layered(a, b), env=env(kaizen_home))
    for i in range(3):  # a is the configured default: measured first, failing each time
        await review(client, project, f"m{i}.py", "from B")
    assert len(a.requests_for("issue_detector")) == 3
    for i in range(4):  # now the record speaks: b is chosen, a is not even tried
        await review(client, project, f"n{i}.py", "from B")
    assert len(a.requests_for("issue_detector")) == 3
    assert len(b.requests_for("issue_detector")) == 7

    [(calls, invalid, successes)] = db_rows(
        kaizen_home,
        f"select calls, invalid, successes from model_performance where model = '{A}' "
        "and task_type = 'issue_detector'",
    )
    assert (calls, invalid, successes) == (3, 3, 0.0)
    [(category, occurrences, example)] = db_rows(
        kaizen_home, "select category, occurrences, example from bug_patterns"
    )
    assert (category, occurrences) == ("model-invalid-json", 3)
    assert example and "reviewed" not in example  # a redacted shape, never the words

    # the bug pattern becomes a regression test that runs under pytest
    store = Store.open(kaizen_home / "kaizen.db")
    try:
        report = tools.analyze_metrics(store)
        assert [m["model"] for m in report["rankings"]["issue_detector"]] == [B, A]
        made = tools.generate_regression_test(store, {"all": True})
        [test] = made["regressionTests"]
    finally:
        store.close()
    path = tmp_path / "regressions" / f"{test['testName']}.py"
    path.parent.mkdir()
    path.write_text(test["testCode"])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=path.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT / "server")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


async def command(client, name: str, /, **args: Any) -> Any:
    try:
        return await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[args])
        )
    except JsonRpcException as exc:
        if "is not defined" in str(exc):
            pytest.fail(
                f"{name} is not registered: lsp/commands.register must import record_commands"
                f" ({exc})"
            )
        raise


async def test_routing_rule_beats_the_policy_and_explicit_choice_beats_both(
    start_client, pair, project: Path, kaizen_home: Path
):
    a, b = pair
    a.set_default("issue_detector", says("from A"))
    b.set_default("issue_detector", says("from B"))
    client = await start_client(layered(a, b), env=env(kaizen_home))
    await review(client, project, "app.py", "from A")  # the policy: a, the default

    rule = await command(
        client,
        "kaizen.updateRoutingHeuristic",
        pattern=r"(^|/)legacy/",
        preferredModel=B,
        priority=10,
    )
    assert rule["heuristic"]["active"] is True
    await review(client, project, "legacy/old.py", "from B")  # the rule wins
    await review(client, project, "core.py", "from A")  # elsewhere the policy still rules

    await command(
        client,
        "kaizen.setModel",
        pipeline="autofix",
        provider="openai",
        model="model-a",
        apiBase=a.url,
    )
    await review(client, project, "legacy/older.py", "from A")  # the user's choice wins

    listed = await command(client, "kaizen.getRoutingHeuristics")
    assert [r["pattern"] for r in listed["heuristics"]] == [r"(^|/)legacy/"]
    report = await command(client, "kaizen.analyzeMetrics")
    assert {m["model"] for m in report["rankings"]["issue_detector"]} == {A, B}
    metric = await command(client, "kaizen.recordMetric", name="review_s", value=1.25, unit="s")
    assert metric["metric"]["name"] == "review_s"
    bug = await command(
        client,
        "kaizen.recordBugPattern",
        category="model-invalid-json",
        pattern="issue_detector via openai/x: answer is not JSON",
        metadata={"task": "issue_detector"},
        example="Xxxx, xx XXXX.",
    )
    generated = await command(
        client, "kaizen.generateRegressionTest", bugPatternId=bug["bugPattern"]["id"]
    )
    assert "validate_answer" in generated["regressionTests"][0]["testCode"]
    tests = await command(client, "kaizen.getRegressionTests", includeCode=False)
    assert len(tests["regressionTests"]) == 1 and "testCode" not in tests["regressionTests"][0]
    perf = await command(
        client,
        "kaizen.updateModelPerformance",
        model=B,
        taskType="issue_detector",
        calls=2,
        accepted=2,
    )
    assert perf["modelPerformance"]["accepted"] == 2
    bugs = await command(client, "kaizen.getBugPatterns", category="model-invalid-json")
    assert bugs["bugPatterns"][0]["occurrences"] == 1


async def test_a_spent_budget_stops_and_says_how_to_raise_it(
    start_client, pair, project: Path, kaizen_home: Path
):
    a, b = pair
    options = layered(a, b, budget={"dailyUsd": 0, "whenExceeded": "stop"})
    client = await start_client(options, env=env(kaizen_home))
    uri = open_document(client, project / "x.py", "x = 1\n")
    await wait_for_diagnostics(client, uri, lambda d: d == [])

    async def told() -> str:
        while True:
            for message in client.messages:
                if "budget" in message.message:
                    return message.message
            await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)

    notice = await asyncio.wait_for(told(), 10)
    assert "kaizen.budget.dailyUsd" in notice and "no model calls" in notice
    assert a.requests == [] and b.requests == []

"""``kaizen mcp`` driven by the official MCP client: the real command as a subprocess over
stdio (and once over streamable HTTP), every tool listed with its schema and called, and the
answers the same as the CLI's for the same database (one implementation, three faces)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from kaizen.config import Settings
from kaizen.memory import insights
from kaizen.memory.loop import LearningLoop
from kaizen.memory.store import Store
from kaizen.tools import operations as records
from kaizen.tools.table import TOOLS

ROOT = Path(__file__).resolve().parent.parent

LESSONS = [
    ("finding_rejected", "B006", "Mutable default argument in parse_config is intended here"),
    ("fix_accepted", "B006", "Replaced a mutable default argument with None in load_rules"),
    ("issue_found", "E722", "Bare except swallows KeyboardInterrupt in the retry loop"),
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A KAIZEN_HOME whose database already holds some learnings."""
    home = tmp_path / "kaizen-home"
    home.mkdir()
    store = Store.open(home / "kaizen.db")
    try:
        loop = LearningLoop(store, Settings())
        items = [
            insights.InsightInput(
                kind=kind,
                category=category,
                summary=summary,
                detail=f"[{category}] {summary}",
                repository="github.com/acme/widgets",  # as repository_id() stores it
                language="python",
            )
            for kind, category, summary in LESSONS
        ]
        insights.record(store.engine, loop.embedder, items)
    finally:
        store.close()
    return home


def env_for(home: Path) -> dict[str, str]:
    return {"KAIZEN_HOME": str(home), "PYTHONPATH": str(ROOT / "server")}


def server_params(home: Path, cwd: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "kaizen", "mcp"], env=env_for(home), cwd=cwd
    )


def cli(home: Path, cwd: Path, *args: str) -> Any:
    """Run ``kaizen ARGS`` on the same database and parse what it prints as JSON."""
    env = {**os.environ, **env_for(home)}
    done = subprocess.run(
        [sys.executable, "-m", "kaizen", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cli_has(command: str) -> bool:
    from kaizen.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return command in sub.choices


async def call(client: Client, name: str, arguments: dict[str, Any] | None = None) -> Any:
    result = await client.call_tool(name, arguments or {})
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    assert json.loads(text) == result.structured_content  # text and structure agree
    return result.structured_content


async def test_lists_every_tool_with_its_schema(home: Path, tmp_path: Path):
    async with Client(server_params(home, tmp_path)) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == set(TOOLS) and len(listed) == 19
    for name, tool in listed.items():
        assert tool.input_schema == TOOLS[name].schema
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        assert tool.description
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is TOOLS[name].read_only
    assert {"taskType", "includeReport"} <= set(listed["analyze_metrics"].input_schema["properties"])
    assert set(listed["get_routing_heuristics"].input_schema["properties"]) == {"activeOnly"}
    assert listed["search_learnings"].input_schema["required"] == ["query"]
    assert {"query", "repository", "limit"} <= set(listed["search_learnings"].input_schema["properties"])
    assert "category" in listed["get_regression_tests"].input_schema["properties"]
    assert "category" in listed["get_bug_patterns"].input_schema["properties"]


async def test_every_tool_answers_as_the_cli_does(home: Path, tmp_path: Path):
    async with Client(server_params(home, tmp_path)) as client:
        metric = await call(client, "record_metric", {"name": "bench.check", "value": 840, "unit": "ms"})
        assert metric["metric"]["value"] == 840.0
        perf = await call(
            client,
            "update_model_performance",
            {
                "model": "openai/gpt-4o-mini",
                "taskType": "issue_detector",
                "calls": 5,
                "invalid": 1,
                "accepted": 2,
                "latencyMs": 4000,
                "costUsd": 0.004,
            },
        )
        assert perf["modelPerformance"]["calls"] == 5
        rule = (
            await call(client, "update_routing_heuristic", {"pattern": r"tests/.*\.py", "preferredLayer": "fast"})
        )["heuristic"]
        await call(client, "update_routing_heuristic", {"pattern": "migrations/", "preferredModel": "openai/o3"})
        changed = await call(client, "update_routing_heuristic", {"id": rule["id"], "active": False})
        assert changed["heuristic"]["active"] is False
        bug = {"category": "model-http-500", "pattern": "upstream exploded", "metadata": {"task": "issue_detector"}}
        await call(client, "record_bug_pattern", bug)
        recorded = await call(client, "record_bug_pattern", bug)
        assert recorded["bugPattern"]["occurrences"] == 2
        made = await call(client, "generate_regression_test", {"bugPatternId": recorded["bugPattern"]["id"]})
        assert made["regressionTests"][0]["category"] == "model-http-500"

        answers = {
            "analyze_metrics": await call(client, "analyze_metrics"),
            "report": await call(client, "analyze_metrics", {"includeReport": True, "taskType": "issue_detector"}),
            "tests": await call(client, "get_regression_tests", {"category": "model-http-500"}),
            "bugs": await call(client, "get_bug_patterns", {"category": "model-http-500"}),
            "rules": await call(client, "get_routing_heuristics"),
            "active": await call(client, "get_routing_heuristics", {"activeOnly": True}),
            "search": await call(client, "search_learnings", {"query": "mutable default argument", "repository": "acme/widgets", "limit": 5}),
        }

    assert answers["report"]["report"].startswith("Models for issue_detector")
    assert [r["pattern"] for r in answers["active"]["heuristics"]] == ["migrations/"]
    assert len(answers["rules"]["heuristics"]) == 2
    found = answers["search"]["learnings"]
    assert found and "mutable default" in found[0]["summary"].lower()

    # the CLI, on the same database
    search = cli(home, tmp_path, "learnings", "--format", "json", "search", "mutable default argument", "--repository", "acme/widgets", "--limit", "5")
    assert found == search
    store = Store.open(home / "kaizen.db")
    try:
        if cli_has("metrics"):
            assert answers["analyze_metrics"] == cli(home, tmp_path, "metrics", "--format", "json")
        else:  # until `kaizen metrics` is wired in: the operation the CLI calls
            assert answers["analyze_metrics"] == json.loads(json.dumps(records.analyze_metrics(store), default=str))
        if cli_has("regression-tests"):
            listed = cli(home, tmp_path, "regression-tests", "--format", "json", "--category", "model-http-500")
            assert answers["tests"]["regressionTests"] == listed
        else:
            assert answers["tests"] == records.get_regression_tests(store, {"category": "model-http-500"})
        assert answers["bugs"] == records.get_bug_patterns(store, {"category": "model-http-500"})
        assert answers["rules"] == records.get_routing_heuristics(store)
    finally:
        store.close()
    ranked = answers["analyze_metrics"]["rankings"]["issue_detector"]
    assert ranked[0]["model"] == "openai/gpt-4o-mini" and ranked[0]["calls"] == 5
    assert answers["analyze_metrics"]["counts"]["heuristics"] == 2
    assert answers["analyze_metrics"]["metrics"][0]["name"] == "bench.check"


async def test_bad_calls_are_tool_errors_and_write_nothing(home: Path, tmp_path: Path):
    bad = [
        ("record_metric", {"name": "x"}, "value: Field required"),
        ("record_metric", {"name": "x", "value": "12"}, "value: Input should be a valid number"),
        ("record_metric", {"name": "x", "value": 1, "units": "ms"}, "units: Extra inputs are not permitted"),
        ("record_bug_pattern", {"category": "c", "pattern": "p", "severity": "dire"}, "severity"),
        ("update_routing_heuristic", {"pattern": "[", "preferredLayer": "fast"}, "update_routing_heuristic:"),
        ("update_routing_heuristic", {"id": 7, "delete": True}, "no routing rule with id 7"),
        ("generate_regression_test", {}, "give bugPatternId, or all: true"),
        ("search_learnings", {"limit": 3}, "query: Field required"),
        ("get_bug_patterns", {"limit": 0}, "limit: Input should be greater than or equal to 1"),
    ]
    async with Client(server_params(home, tmp_path)) as client:
        before = await call(client, "analyze_metrics")
        for name, arguments, message in bad:
            result = await client.call_tool(name, arguments)
            assert result.is_error, (name, arguments)
            assert message in result.content[0].text, result.content  # type: ignore[union-attr]
        with pytest.raises(MCPError, match="unknown tool 'drop_tables'"):
            await client.call_tool("drop_tables", {})
        after = await call(client, "analyze_metrics")
    assert after == before
    assert after["counts"]["heuristics"] == 0 and after["metrics"] == []


async def test_streamable_http_on_loopback(home: Path, tmp_path: Path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kaizen",
        "mcp",
        "--http",
        "--port",
        "0",
        env={**os.environ, **env_for(home)},
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
        match = re.search(r"http://127\.0\.0\.1:\d+/mcp", line)
        assert match, line
        async with Client(match.group(0)) as client:
            assert len((await client.list_tools()).tools) == len(TOOLS)
            await call(client, "record_metric", {"name": "over.http", "value": 1})
            found = await call(client, "search_learnings", {"query": "bare except"})
            assert found["learnings"][0]["category"] == "E722"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)

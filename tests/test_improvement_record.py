"""The self-improvement record over a real database: model performance increments, bug
patterns from real failure messages, learned heuristics, the tools, and the CLI."""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from kaizen.cli.metrics import add_record_commands, render_report
from kaizen.core.findings import Finding
from kaizen.core.runs import RunStatus, RunTotals
from kaizen.improvement import bugs, heuristics, performance
from kaizen.improvement.events import record_attempt, record_finding_outcome
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, ModelTarget, validate_answer
from kaizen.pipelines.prompts import IssueReport
from kaizen.tools import operations as tools

A, B = ModelTarget("openai/model-a", "http://a/v1"), ModelTarget("openai/model-b")
NOT_JSON = "invalid answer: answer is not JSON (Expecting value: line 1 column 1 (char 0))"
LITELLM_429 = (
    "RateLimitError: litellm.RateLimitError: RateLimitError: OpenAIException - scripted failure."
    " Received Model Group=openai/m-429 Available Model Group Fallbacks=None"
)


@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(tmp_path / "kaizen.db")
    yield store
    store.close()


def failed(target: ModelTarget, error: str, status: str = "error", task="issue_detector"):
    return CallOutcome(task, target, status, error=error, latency_ms=12.0)


def test_model_performance_is_incremented_in_sql_even_concurrently(store: Store):
    def work() -> None:
        for _ in range(25):
            performance.record_outcome(
                store, CallOutcome("issue_detector", A, "ok", latency_ms=10.0, cost_usd=0.001)
            )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record_attempt(store, failed(A, NOT_JSON, "invalid"))
    [row] = performance.rows(store, "issue_detector")
    assert (row["calls"], row["successes"], row["invalid"], row["errors"]) == (101, 100, 1, 0)
    assert row["avgCostUsd"] == pytest.approx(0.1 / 101)


@pytest.mark.parametrize(
    ("error", "status", "category"),
    [
        (NOT_JSON, "invalid", "model-invalid-json"),
        (
            "invalid answer: 2 validation errors for IssueReport issues.0.line Input should be a "
            "valid integer [type=int_parsing, input_value='x', input_type=str]",
            "invalid",
            "model-invalid-schema",
        ),
        ("invalid answer too large (300001 characters)", "invalid", "model-answer-too-large"),
        (LITELLM_429, "error", "model-http-429"),
        (
            "Timeout: litellm.Timeout: APITimeoutError - Request timed out. Error_str: Request "
            "timed out. - timeout value=1.0, time taken=1.0 seconds Deployment Info: x",
            "error",
            "model-timeout",
        ),
        (
            "InternalServerError: litellm.InternalServerError: InternalServerError: "
            "OpenAIException - Connection error.. Received Model Group=x",
            "error",
            "model-connection",
        ),
        ("InternalServerError: litellm.InternalServerError: boom", "error", "model-http-500"),
        ("AuthenticationError: litellm.AuthenticationError: bad key", "error", "model-auth"),
        ("NotFoundError: litellm.NotFoundError: no such model", "error", "model-not-found"),
        ("ValueError: something odd", "error", "model-error"),
    ],
)
def test_failures_are_classified(error: str, status: str, category: str):
    report = bugs.classify_attempt(failed(A, error, status))
    assert report is not None and report.category == category
    assert report.pattern.startswith("issue_detector via openai/model-a: ")
    assert report.solution and report.meta["model"] == "openai/model-a"


def test_repeats_of_a_failure_count_occurrences_of_one_pattern(store: Store):
    for port in (4001, 4002, 4003):  # varying details: same bug
        error = LITELLM_429.replace("m-429", f"m-{port}") + f" after {port} ms"
        record_attempt(store, failed(A, error))
    record_attempt(store, failed(A, NOT_JSON, "invalid"))
    rows = {p["category"]: p for p in bugs.list_patterns(store)}
    assert rows["model-http-429"]["occurrences"] == 3
    assert rows["model-invalid-json"]["occurrences"] == 1
    assert rows["model-http-429"]["severity"] == "low"


def test_answer_shapes_keep_the_failure_not_the_words():
    raw = '{"issues": [{"line": "two", "severity": "error", "message": "API_KEY=hunter2 leaks"}]}'
    shape = bugs.answer_shape(raw, IssueReport)
    assert shape is not None and "hunter2" not in shape and "API_KEY" not in shape
    assert '"issues"' in shape and '"severity": "error"' in shape  # schema words stay
    assert validate_answer(shape, IssueReport)[0] == "invalid"

    prose = "Sure! The function secret_token() is fine: no issues."
    shape = bugs.answer_shape(prose, IssueReport)
    assert shape is not None and "secret" not in shape
    status, _, why = validate_answer(shape, IssueReport)
    assert status == "invalid" and "not JSON" in (why or "")
    assert bugs.answer_shape('{"issues": []}', IssueReport) is None  # a valid answer: no bug


def test_recorded_raw_answers_become_the_example(store: Store):
    outcome = failed(A, NOT_JSON, "invalid")
    outcome.raw = "I cannot answer in JSON, sorry."  # type: ignore[attr-defined]
    record_attempt(store, outcome)
    [bug] = bugs.list_patterns(store)
    assert bug["example"] == "x xxxxxx xxxxxx xx xxxx, xxxxx."
    assert bug["metadata"]["shapeSource"] == "recorded"


def test_failed_runs_are_swept_once(store: Store):
    def run(error: str, status: RunStatus = RunStatus.FAILED) -> int:
        run_id = store.start_run("autofix", "file:///a.py", "repo", "python", 1)
        store.finish_run(run_id, status, RunTotals(), error=error)
        return run_id

    run("ZeroDivisionError: division by zero")
    run("issue_detector failed (openai/model-a: invalid answer)")  # recorded per attempt
    run("a.py is larger than kaizen.maxFileBytes (500,000 bytes): not analysed")
    running = store.start_run("autofix", "file:///b.py", "repo", "python", 1)
    assert bugs.sweep_failed_runs(store) == 1
    assert bugs.sweep_failed_runs(store) == 0  # idempotent
    store.finish_run(running, RunStatus.FAILED, RunTotals(), error="KeyError: 'x'")
    run("ZeroDivisionError: division by zero")
    assert bugs.sweep_failed_runs(store) == 2  # the one that was running is not skipped
    rows = {p["pattern"]: p for p in bugs.list_patterns(store)}
    assert rows["autofix: ZeroDivisionError: division by zero"]["occurrences"] == 2
    assert rows["autofix: KeyError: '…'"]["category"] == "pipeline-error"


def test_a_model_that_keeps_failing_yields_a_learned_inactive_heuristic(store: Store):
    for _ in range(3):
        record_attempt(store, CallOutcome("issue_detector", B, "ok"))
    for _ in range(heuristics.LEARN_MIN_CALLS):
        record_attempt(store, failed(A, NOT_JSON, "invalid"))
    [rule] = heuristics.list_rules(store)
    assert rule["pattern"] == "^issue_detector$" and rule["preferredModel"] == B.model
    assert rule["active"] is False and rule["metadata"]["source"] == "learned"
    assert "openai/model-a failed 5 of 5 issue_detector calls" in rule["metadata"]["why"]
    record_attempt(store, failed(A, NOT_JSON, "invalid"))
    assert len(heuristics.list_rules(store)) == 1  # refreshed, not duplicated


def test_accepted_and_dismissed_findings_credit_the_model(store: Store):
    finding = Finding("autofix", "bug", "error", 1, 1, "m", model=A.model)
    record_finding_outcome(store, finding, "accepted")
    record_finding_outcome(store, finding, "fixed_by_hand")
    record_finding_outcome(store, finding, "rejected")
    ruff = Finding("autofix", "E711", "warning", 1, 1, "m", origin="ruff")
    record_finding_outcome(store, ruff, "accepted")  # not a model's finding
    [row] = performance.rows(store)
    assert (row["taskType"], row["accepted"], row["rejected"], row["calls"]) == (
        "issue_detector",
        2,
        1,
        0,
    )


def test_tools_validate_and_answer_json(store: Store):
    with pytest.raises(tools.ToolError, match="preferredLayer"):
        tools.update_routing_heuristic(store, {"pattern": "x", "preferredLayer": "huge"})
    rule = tools.update_routing_heuristic(store, {"pattern": r"\.sql$", "preferredModel": "m"})
    rule_id = rule["heuristic"]["id"]
    changed = tools.update_routing_heuristic(store, {"id": rule_id, "active": False})
    assert changed["heuristic"]["active"] is False
    assert tools.get_routing_heuristics(store, {"includeInactive": False}) == {"heuristics": []}
    assert tools.update_routing_heuristic(store, {"id": rule_id, "delete": True}) == {
        "deleted": rule_id
    }

    first = tools.record_bug_pattern(store, {"category": "ui", "pattern": "menu flickers"})
    again = tools.record_bug_pattern(store, {"category": "ui", "pattern": "menu flickers"})
    assert again["bugPattern"]["occurrences"] == 2 == first["bugPattern"]["occurrences"] + 1
    with pytest.raises(tools.ToolError, match="no automatic regression test"):
        tools.generate_regression_test(store, {"bugPatternId": first["bugPattern"]["id"]})
    with pytest.raises(tools.ToolError, match="no bug pattern"):
        tools.generate_regression_test(store, {"bugPatternId": 999})

    metric = tools.record_metric(store, {"name": "p95_latency", "value": 812, "unit": "ms"})
    assert metric["metric"]["value"] == 812.0

    perf = tools.update_model_performance(
        store, {"model": "m", "taskType": "issue_detector", "calls": 4, "invalid": 1}
    )
    assert perf["modelPerformance"]["successes"] == 3.0
    perf = tools.update_model_performance(
        store, {"model": "m", "taskType": "issue_detector", "calls": 0, "reset": True}
    )
    assert perf == {"modelPerformance": None, "reset": True}
    with pytest.raises(tools.ToolError, match="value"):
        tools.record_metric(store, {"name": "x"})


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="kaizen")
    add_record_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_metrics_report_text_and_json(store: Store, tmp_path: Path, capsys):
    for _ in range(4):
        record_attempt(store, CallOutcome("issue_detector", B, "ok", latency_ms=40.0))
        record_attempt(store, failed(A, NOT_JSON, "invalid"))
    tools.record_metric(store, {"name": "run_latency", "value": 1.5, "unit": "s"})
    database = str(tmp_path / "kaizen.db")
    assert cli("metrics", "--database", database, "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    ranking = report["rankings"]["issue_detector"]
    assert [m["model"] for m in ranking] == [B.model, A.model]
    assert ranking[0]["successRate"] == 1.0 and ranking[1]["invalid"] == 4
    assert report["counts"]["bugPatterns"] == 1 and report["counts"]["bugOccurrences"] == 4
    assert report["recentBugs"][0]["category"] == "model-invalid-json"

    assert cli("metrics", "--database", database) == 0
    text = capsys.readouterr().out
    assert "Models for issue_detector" in text and "4 invalid answers" in text
    assert "Recent bugs:" in text and "run_latency: latest 1.5s" in text
    assert render_report(report) == text  # the same report as the JSON, as text


def test_cli_writes_regression_tests(store: Store, tmp_path: Path, capsys):
    record_attempt(store, failed(A, NOT_JSON, "invalid"))
    tools.record_bug_pattern(store, {"category": "pipeline-error", "pattern": "autofix: KeyError"})
    out = tmp_path / "regressions"
    assert (
        cli(
            "regression-tests",
            "--database",
            str(tmp_path / "kaizen.db"),
            "--generate",
            "--write",
            str(out),
        )
        == 0
    )
    captured = capsys.readouterr()
    [path] = sorted(out.glob("test_*.py"))
    assert str(path) in captured.out and "no automatic regression test" in captured.err
    db = sqlite3.connect(tmp_path / "kaizen.db")
    assert db.execute("select test_code from regression_tests").fetchone()[0] == path.read_text()


def test_the_record_on_postgresql(pg_url: str):
    """The same increments, patterns, sweep and learned rule on PostgreSQL (ON CONFLICT
    there too), with concurrent writers."""
    store = Store.open(pg_url)
    try:

        def work() -> None:
            for _ in range(10):
                record_attempt(store, failed(A, NOT_JSON, "invalid"))
                record_attempt(store, CallOutcome("issue_detector", B, "ok", latency_ms=5.0))

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows = {r["model"]: r for r in performance.rows(store, "issue_detector")}
        assert (rows[A.model]["calls"], rows[A.model]["invalid"]) == (30, 30)
        assert rows[B.model]["successes"] == 30.0
        [bug] = bugs.list_patterns(store)
        assert (bug["category"], bug["occurrences"]) == ("model-invalid-json", 30)
        assert len(heuristics.list_rules(store)) == 1  # learned once, not once per thread

        run_id = store.start_run("autofix", "file:///a.py", "repo", "python", 1)
        store.finish_run(run_id, RunStatus.FAILED, RunTotals(), error="KeyError: 'x'")
        assert bugs.sweep_failed_runs(store) == 1 and bugs.sweep_failed_runs(store) == 0
        made = tools.generate_regression_test(store, {"all": True})
        assert len(made["regressionTests"]) == 1 and len(made["skipped"]) == 1
        report = tools.analyze_metrics(store)
        assert [m["model"] for m in report["rankings"]["issue_detector"]] == [B.model, A.model]
    finally:
        store.close()

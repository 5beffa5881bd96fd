"""Generated regression tests are real: they pass under pytest today and fail when the bug
they were made from comes back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kaizen.improvement import bugs, regression
from kaizen.improvement.events import record_attempt
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, ModelTarget
from kaizen.tools import operations as tools

ROOT = Path(__file__).resolve().parent.parent
FAILING = ModelTarget("openai/model-a", "http://a/v1")

# What "the bug came back" means for each recipe, injected into the generated tests' run:
# a lenient parser that turns any answer into an empty report ("no issues": silently wrong),
# and a gateway that lets a
# provider error escape as an exception instead of a failed attempt.
BUG_RETURNS = """
import kaizen.models.gateway as gateway

gateway.extract_json = lambda text: {"issues": [], "fixes": [], "opportunities": []}
_complete = gateway.Gateway.complete


async def complete(self, *args, **kwargs):
    outcome = await _complete(self, *args, **kwargs)
    if outcome.status == "error":
        raise RuntimeError(outcome.error)
    return outcome


gateway.Gateway.complete = complete
"""


def run_pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(tmp_path / "kaizen.db")
    yield store
    store.close()


def test_generated_tests_pass_now_and_fail_when_the_bug_returns(store: Store, tmp_path: Path):
    invalid = CallOutcome(
        "issue_detector",
        FAILING,
        "invalid",
        error="invalid answer: answer is not JSON (Expecting value: line 1 column 1 (char 0))",
    )
    invalid.raw = "Here is my review of parse_config(): it looks fine!"  # type: ignore[attr-defined]
    record_attempt(store, invalid)
    schema = CallOutcome(
        "fix_generator",
        FAILING,
        "invalid",
        error="invalid answer: 1 validation "
        "error for FixReport fixes.0.issue Field required [type=missing]",
    )
    schema.raw = '{"fixes": [{"start_line": 3, "end_line": 3, "replacement": "x = 1"}]}'  # type: ignore[attr-defined]
    record_attempt(store, schema)
    record_attempt(
        store,
        CallOutcome(
            "issue_detector",
            FAILING,
            "error",
            error=(
                "InternalServerError: litellm.InternalServerError: InternalServerError: "
                "OpenAIException - upstream exploded. Received Model Group=openai/model-a"
            ),
        ),
    )

    made = tools.generate_regression_test(store, {"all": True})
    assert made["skipped"] == []
    tests = tools.get_regression_tests(store)["regressionTests"]
    assert {t["category"] for t in tests} == {
        "model-invalid-json",
        "model-invalid-schema",
        "model-http-500",
    }
    shapes = {b["category"]: b["example"] for b in bugs.list_patterns(store)}
    assert "parse_config" not in tests[0]["testCode"] and shapes["model-invalid-json"] in (
        tests[0]["testCode"] + tests[1]["testCode"]
    )

    directory = tmp_path / "regressions"
    regression.write(tests, directory)
    now = run_pytest(directory)
    assert now.returncode == 0, now.stdout + now.stderr
    assert "3 passed" in now.stdout

    (directory / "conftest.py").write_text(BUG_RETURNS)
    back = run_pytest(directory)
    assert back.returncode == 1, back.stdout + back.stderr
    assert "3 failed" in back.stdout


def test_generating_again_refreshes_the_same_test(store: Store):
    outcome = CallOutcome(
        "issue_detector",
        FAILING,
        "invalid",
        error="invalid answer: answer is not JSON (Expecting value)",
    )
    record_attempt(store, outcome)
    [bug] = bugs.list_patterns(store)
    first = tools.generate_regression_test(store, {"bugPatternId": bug["id"]})
    again = tools.generate_regression_test(store, {"bugPatternId": bug["id"]})
    assert first["regressionTests"][0]["id"] == again["regressionTests"][0]["id"]
    assert len(tools.get_regression_tests(store)["regressionTests"]) == 1
    assert tools.generate_regression_test(store, {"all": True})["regressionTests"] == []

"""``kaizen regression-tests --run``: the generated tests run under a real pytest subprocess,
each result is recorded on its row, a returning bug fails the command, and the tool table
(MCP, HTTP, the LSP command) runs them and shows their last results."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen.cli.main import main
from kaizen.config import Settings
from kaizen.improvement.events import record_attempt
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, ModelTarget
from kaizen.tools import operations as tools
from kaizen.tools.table import TOOLS, Context

# the bug coming back: a lenient parser that turns any answer into an empty report
BUG_RETURNS = """
import kaizen.models.gateway as gateway

gateway.extract_json = lambda text: {"issues": [], "fixes": [], "opportunities": []}
"""


def test_run_records_results_and_fails_when_the_bug_returns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "kaizen.db"
    store = Store.open(db)
    invalid = CallOutcome(
        "issue_detector",
        ModelTarget("openai/model-a"),
        "invalid",
        error="invalid answer: answer is not JSON (Expecting value: line 1 column 1 (char 0))",
    )
    invalid.raw = "Here is my review: it looks fine!"
    record_attempt(store, invalid)
    assert len(tools.generate_regression_test(store, {"all": True})["regressionTests"]) == 1
    store.close()

    out = tmp_path / "regression"
    assert main(["regression-tests", "--run", str(out), "--database", str(db)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("PASSED ") and "1 passed, 0 failed of 1." in text
    assert [p.name for p in out.glob("test_*.py")]  # the tests were written to DIR

    (out / "conftest.py").write_text(BUG_RETURNS)  # the bug is back
    assert main(["regression-tests", "--run", str(out), "--database", str(db)]) == 1
    text = capsys.readouterr().out
    assert text.startswith("FAILED ") and "0 passed, 1 failed of 1." in text

    store = Store.open(db)
    try:
        (row,) = tools.get_regression_tests(store, {"includeCode": False})["regressionTests"]
        assert row["lastResult"] == "failed" and row["lastRunAt"] and row["lastDurationS"] >= 0

        # the tool (MCP, HTTP, kaizen.runRegressionTests) runs them in a scratch directory
        result = TOOLS["run_regression_tests"].call(Context(store, Settings()), {})
        assert result["ran"] == 1 and result["passed"] == 1 and result["exitCode"] == 0
        (row,) = tools.get_regression_tests(store, {"includeCode": False})["regressionTests"]
        assert row["lastResult"] == "passed"
    finally:
        store.close()
    assert TOOLS["run_regression_tests"].command == "runRegressionTests"


def test_run_with_nothing_to_run_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["regression-tests", "--run", "--database", str(tmp_path / "k.db")]) == 0
    assert "No regression tests yet" in capsys.readouterr().out

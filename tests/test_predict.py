"""Predictive cost: a call whose predicted cost would cross the daily budget never reaches
the model server (refused, or downgraded to the cheapest layer); predictions are stored and
their error reported by ``kaizen metrics``; ``kaizen check`` ends with the predicted cost.

Real components throughout: Services and the real router, gateway and litellm (its
tokenizer and prices) against the scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kaizen.app.services import Services
from kaizen.cli.main import main
from kaizen.config import load_settings
from kaizen.core.document import Document
from kaizen.improvement.forecast import prediction_error
from kaizen.memory.migrate import SCHEMA_VERSION
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, ModelTarget
from kaizen.models.policy import Stats
from kaizen.models.predict import Prediction, expected_completion_tokens
from kaizen.pipelines.registry import run
from tests.conftest import server_env
from tests.fixtures.scripted_model import ScriptedModel

CODE = "def total(items):\n    s = 0\n    for i in items:\n        s += i\n    return s\n"


def services_for(tmp_path: Path, scripted: ScriptedModel, **extra: Any) -> Services:
    options: dict[str, Any] = {
        "autofix": {
            "provider": "openai",
            "model": "gpt-4o",
            "apiBase": scripted.url,
            "apiKey": "sk-test",
        },
        "staticPrepass": {"enabled": False},
        "localModel": False,
        "databasePath": str(tmp_path / "kaizen.db"),
        **extra,
    }
    settings, problems = load_settings(None, options)
    assert problems == []
    services = Services(settings)
    services.open_store()
    return services


def document(tmp_path: Path) -> Document:
    path = tmp_path / "m.py"
    path.write_text(CODE)
    return Document(uri=path.as_uri(), path=path, text=CODE, version=1, language_id="python")


async def test_a_call_predicted_over_the_budget_is_refused_before_any_request(
    tmp_path: Path, scripted: ScriptedModel
) -> None:
    services = services_for(tmp_path, scripted, budget={"dailyUsd": 0.001, "whenExceeded": "stop"})
    try:
        result = await run("autofix", document(tmp_path), services.context())
    finally:
        services.store.close()  # type: ignore[union-attr]
    assert scripted.requests == []  # the money was never spent
    refused = [n for n in result.notices if "did not call openai/gpt-4o" in n]
    assert refused and "kaizen.budget.dailyUsd" in refused[0], result.notices
    assert result.error  # the run says it could not ask a model


async def test_a_call_predicted_over_the_budget_is_downgraded_to_the_cheapest_layer(
    tmp_path: Path, scripted: ScriptedModel
) -> None:
    cheap = {"model": "openai/gpt-4o-mini", "apiBase": scripted.url, "apiKey": "sk-test"}
    services = services_for(
        tmp_path,
        scripted,
        budget={"dailyUsd": 0.002, "whenExceeded": "cheapest"},
        layers={"fast": [cheap]},
    )
    try:
        result = await run("autofix", document(tmp_path), services.context())
        calls = services.store.calls(result.run_id)  # type: ignore[union-attr]
    finally:
        services.store.close()  # type: ignore[union-attr]
    assert [r["body"]["model"] for r in scripted.requests] == ["gpt-4o-mini"]
    assert result.error is None and any("did not call openai/gpt-4o " in n for n in result.notices)
    # the prediction is stored beside the actual numbers, and priced by litellm
    (call,) = calls
    assert call.model == "openai/gpt-4o-mini" and call.predicted_prompt_tokens > 100
    assert 0 < call.predicted_cost_usd < 0.002
    assert result.totals.predicted_cost_usd == pytest.approx(call.predicted_cost_usd)


def test_completion_tokens_are_learned_per_model_and_task() -> None:
    assert expected_completion_tokens(None, 4096) == 300  # no history: a typical answer
    history = Stats("m", calls=4, total_completion_tokens=480.0)
    assert expected_completion_tokens(history, 4096) == 120
    assert expected_completion_tokens(history, 50) == 50  # never more than max_tokens


def test_metrics_reports_the_prediction_error_per_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(tmp_path / "kaizen.db")
    try:
        for predicted_cost, actual_cost in ((0.011, 0.010), (0.009, 0.010)):  # 10 % off each
            call = CallOutcome(
                "issue_detector",
                ModelTarget("openai/a"),
                "ok",
                prompt_tokens=1000,
                completion_tokens=100,
                cost_usd=actual_cost,
            )
            call.predicted = Prediction(1000, 150, predicted_cost)
            store.record_call(None, call)
        free = CallOutcome("issue_detector", ModelTarget("openai/free"), "ok", prompt_tokens=10)
        free.predicted = Prediction(20, 1, None)
        store.record_call(None, free)
        rows = {r["model"]: r for r in prediction_error(store)}
    finally:
        store.close()
    assert rows["openai/a"]["costMape"] == pytest.approx(0.10)
    assert rows["openai/a"]["promptTokensMape"] == pytest.approx(0.0)
    assert rows["openai/a"]["completionTokensMape"] == pytest.approx(0.5)
    assert rows["openai/free"]["costMape"] is None  # no price, no percentage
    assert rows["openai/free"]["promptTokensMape"] == pytest.approx(1.0)

    assert main(["metrics", "--database", str(tmp_path / "kaizen.db")]) == 0
    text = capsys.readouterr().out
    assert "Cost prediction error" in text and "openai/a" in text and "10%" in text
    assert main(["metrics", "--database", str(tmp_path / "kaizen.db"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in report["predictionError"]} == {"openai/a", "openai/free"}


def test_check_ends_with_the_predicted_cost_of_the_run(
    tmp_path: Path, scripted: ScriptedModel
) -> None:
    (tmp_path / "m.py").write_text(CODE)
    env = server_env(tmp_path, KAIZEN_DATABASE=str(tmp_path / "kaizen.db"))
    cmd = [
        sys.executable,
        "-m",
        "kaizen",
        "check",
        str(tmp_path / "m.py"),
        "--no-static",
        "--provider",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--api-base",
        scripted.url,
    ]
    done = subprocess.run(
        cmd,
        env={**env, "OPENAI_API_KEY": "sk-test"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("kaizen: predicted cost of this run $0.0"), done.stderr
    assert "(actual $" in last


def test_a_v2_database_gains_the_prediction_columns_and_the_window_index(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    Store.open(path).close()
    db = sqlite3.connect(path)  # make it look like a v2 database
    db.executescript(
        "DROP INDEX ix_model_calls_model_task;"
        "ALTER TABLE model_calls DROP COLUMN predicted_cost_usd;"
        "ALTER TABLE model_performance DROP COLUMN total_completion_tokens;"
        "UPDATE meta SET value = '2' WHERE key = 'schema_version';"
    )
    db.close()
    Store.open(path).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("select value from meta where key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
        assert "predicted_cost_usd" in {r[1] for r in db.execute("pragma table_info(model_calls)")}
        perf = {r[1] for r in db.execute("pragma table_info(model_performance)")}
        assert "total_completion_tokens" in perf
        indexes = {r[1] for r in db.execute("pragma index_list(model_calls)")}
        assert "ix_model_calls_model_task" in indexes
    finally:
        db.close()

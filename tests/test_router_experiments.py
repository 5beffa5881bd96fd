"""A/B experiments of routing strategies: assignment recorded per task, quality and cost per
arm, a sequential test that stops on a clear difference and not on equal arms, promotion."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kaizen.config import Settings
from kaizen.improvement import experiments, router_state
from kaizen.improvement.routing_record import wire_router
from kaizen.memory.store import Store
from kaizen.models.contextual_router import RoutedTask
from kaizen.models.features import TaskContext
from kaizen.models.router import ModelRouter

A, B = "openai/model-a", "openai/model-b"


@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(tmp_path / "kaizen.db")
    yield store
    store.close()


def run_tasks(store: Store, n: int, quality: dict[str, float], seed: int) -> dict[str, int]:
    """``n`` live tasks assigned by the experiment's coin, each with one outcome drawn
    from its arm's quality; returns how many tasks each arm got."""
    rng = random.Random(seed)
    experiment = experiments.running_experiment(store)
    assert experiment is not None
    counts = {"a": 0, "b": 0}
    tasks = []
    for i in range(n):
        arm, _strategy = experiments.assign(experiment, rng)
        counts[arm] += 1
        task = RoutedTask(f"t{seed}-{i}", "issue_detector", i, [], None, None, None)
        task.model, task.experiment = A, {"id": experiment["id"], "arm": arm}
        task.cost_usd, task.relative_cost = 0.002, 0.5
        tasks.append(task)
    router_state.save_decisions(store, tasks)
    for task in tasks:
        arm = task.experiment["arm"]  # type: ignore[index]
        outcome = "accepted" if rng.random() < quality[arm] else "dismissed"
        assert experiments.record_outcome(store, task.id, A, outcome)
    return counts


def test_start_rejects_a_second_experiment_and_bad_strategies(store: Store):
    started = experiments.start_experiment(store, 0.05, {"name": "cheap", "costWeight": 0.5})
    assert started["status"] == "running" and started["a"] == {"name": "A", "costWeight": 0.05}
    with pytest.raises(ValueError):
        experiments.start_experiment(store, 0.1, 0.2)
    with pytest.raises(ValueError):
        experiments.normalise_strategy({"policy": "magic"}, "A")


def test_a_clear_difference_stops_the_experiment_and_the_winner_is_promoted(store: Store):
    experiments.start_experiment(store, {"name": "good"}, {"name": "bad"}, max_tasks=2000)
    counts = run_tasks(store, 300, {"a": 0.8, "b": 0.4}, seed=1)
    assert counts["a"] > 110 and counts["b"] > 110  # a fair coin, recorded per task
    status = experiments.experiment_status(store)
    assert status["experiment"]["status"] == "stopped"
    assert status["experiment"]["winner"] == "a", status
    arms = status["arms"]
    assert arms["a"]["tasks"] == counts["a"] and arms["a"]["resolved"] == counts["a"]
    assert arms["a"]["quality"] > arms["b"]["quality"]
    assert arms["a"]["costUsd"] == pytest.approx(0.002 * counts["a"])
    assert status["test"]["pValue"] <= 0.05
    result = experiments.stop_experiment(store, promote=True)
    assert result["promoted"] == {"name": "good"}
    assert experiments.promoted_strategy(store) == {"name": "good"}


def test_equal_arms_do_not_stop_before_the_cap(store: Store):
    experiments.start_experiment(store, {"name": "x"}, {"name": "y"}, max_tasks=2000)
    for seed in range(4):  # 1,000 resolved tasks, checked after every batch of 250
        run_tasks(store, 250, {"a": 0.6, "b": 0.6}, seed=10 + seed)
        status = experiments.experiment_status(store)
        assert status["experiment"]["status"] == "running", status["test"]
    result = experiments.stop_experiment(store, promote=True)
    assert result["stopped"]["winner"] is None and result["promoted"] is None


def test_the_router_assigns_live_tasks_to_the_running_experiment(store: Store):
    experiments.start_experiment(
        store, {"name": "stats", "policy": "statistics"}, {"name": "b", "costWeight": 0.3}
    )
    router = ModelRouter(Settings.model_validate({"layers": {"balanced": [A, B]}}))
    wire_router(router, store)
    router.refresh()
    arms = []
    for i in range(30):
        choice = router.choose(
            "issue_detector", "src/x.py", TaskContext("issue_detector", f"t {i}")
        )
        assert choice.routed is not None and choice.routed.experiment is not None
        arms.append(choice.routed.experiment["arm"])
        router.call_done(choice)
    assert {"a", "b"} == set(arms)
    router.refresh()  # writes the decisions with their arms
    status = experiments.experiment_status(store)
    assert status["arms"]["a"]["tasks"] + status["arms"]["b"]["tasks"] == 30


def test_the_experiment_through_the_cli_and_the_tool_table(tmp_path) -> None:
    """The same operation behind `kaizen routing experiment`, MCP/HTTP and the LSP command."""
    import json
    import subprocess
    import sys

    from kaizen.config import Settings
    from kaizen.memory.store import Store
    from kaizen.tools.table import TOOLS, Context, ToolError

    env = {"KAIZEN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "kaizen", "routing", "experiment", *args],
            capture_output=True, text=True, env=env, timeout=60,
        )

    started = cli("start", "0.02", '{"name": "cheap", "costWeight": 0.5}', "--format", "json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["experiment"]["status"] == "running"
    again = cli("start", "1", "2")
    assert again.returncode == 2 and "is running: stop it first" in again.stderr
    status = cli("status")
    assert "Experiment #1: running" in status.stdout and "B cheap: 0 tasks" in status.stdout

    ctx = Context(Store.open(tmp_path / "kaizen.db"), Settings())
    tool = TOOLS["routing_experiment"]
    assert tool.command == "routingExperiment"
    shown = tool.call(ctx, {"action": "status"})
    assert shown["experiment"]["id"] == 1 and set(shown["arms"]) == {"a", "b"}
    with pytest.raises(ToolError):
        tool.call(ctx, {"action": "start", "a": 0.1})  # strict: b missing
    stopped = tool.call(ctx, {"action": "stop"})
    assert stopped["stopped"]["status"] == "stopped"
    ctx.close()

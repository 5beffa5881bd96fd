"""ModelRouter.choose over a real database: explicit choice > routing rules > learned policy,
layers with their own endpoints, and the daily budget."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kaizen.config import Settings
from kaizen.improvement import heuristics, performance
from kaizen.improvement.routing_record import record_reader
from kaizen.memory.schema import RoutingRule
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, ModelTarget
from kaizen.models.policy import LearnedPolicy, PolicyConfig
from kaizen.models.router import ModelRouter

A, B, FAST = "openai/model-a", "openai/model-b", "openai/model-fast"


@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(tmp_path / "kaizen.db")
    yield store
    store.close()


def make_router(store: Store, **settings: object) -> ModelRouter:
    options = {
        "layers": {
            "fast": [FAST],
            "balanced": [
                {"model": A, "apiBase": "http://a.invalid/v1", "apiKey": "sk-a"},
                {"model": B, "api_base": "http://b.invalid/v1"},
            ],
        },
        **settings,
    }
    greedy = LearnedPolicy(PolicyConfig(epsilon=0.0, warmup_epsilon=0.0), random.Random(0))
    return ModelRouter(
        Settings.model_validate(options), read_record=record_reader(store), policy=greedy
    )


def calls(store: Store, model: str, ok: int, failed: int = 0, task: str = "issue_detector"):
    sample = performance.Sample(calls=ok + failed, successes=ok, invalid=failed)
    performance.add_sample(store, model, task, sample)


def test_layers_give_candidates_with_their_endpoints(store: Store):
    choice = make_router(store).choose("issue_detector", "src/app.py")
    assert choice.source == "learned"
    assert [t.model for t in choice.targets] == [A, B, FAST]
    assert choice.targets[0] == ModelTarget(A, "http://a.invalid/v1", "sk-a")
    assert (
        choice.targets[0].api_key == "sk-a" and choice.targets[1].api_base == "http://b.invalid/v1"
    )


def test_learned_policy_follows_the_record(store: Store):
    router = make_router(store)
    calls(store, A, ok=0, failed=4)
    calls(store, B, ok=4)
    router.refresh()
    choice = router.choose("issue_detector")
    assert choice.targets[0].model == B and choice.source == "learned"
    assert "best on record" in choice.reason
    # another task type has no record of its own: configured order (with a cross-task nudge)
    assert router.choose("opportunity_detector").targets[0].model in (A, B)


def test_rule_beats_the_policy_and_explicit_beats_the_rule(store: Store):
    calls(store, B, ok=10)
    calls(store, A, ok=0, failed=10)
    heuristics.upsert_rule(store, pattern=r"(^|/)legacy/", preferred_model=A, priority=5)
    router = make_router(store)
    router.refresh()
    assert router.choose("issue_detector", "src/new.py").targets[0].model == B
    ruled = router.choose("issue_detector", "legacy/old.py")
    assert ruled.source == "rule" and ruled.targets[0].model == A
    assert ruled.targets[0].api_base == "http://a.invalid/v1"  # the layer entry's endpoint
    assert [t.model for t in ruled.targets[1:]] == [B, FAST]  # fallbacks, best first

    explicit = make_router(
        store, autofix={"provider": "openai", "model": "model-x", "apiBase": "http://x/v1"}
    )
    chosen = explicit.choose("issue_detector", "legacy/old.py")
    assert chosen.source == "explicit" and chosen.targets[0].model == "openai/model-x"


def test_rules_match_task_names_by_priority_and_bad_patterns_are_skipped(store: Store):
    with store.sessions.begin() as s:  # written by an older version or by hand
        s.add(RoutingRule(pattern="([unclosed", preferred_model=A, priority=100, active=True))
    heuristics.upsert_rule(store, pattern="^fix_generator$", preferred_model=B, priority=1)
    heuristics.upsert_rule(store, pattern="generator", preferred_layer="fast", priority=2)
    heuristics.upsert_rule(store, pattern="detector", preferred_model=FAST, active=False)
    router = make_router(store)
    router.refresh()
    fix = router.choose("fix_generator", "a.py")
    assert fix.source == "rule" and fix.targets[0].model == FAST  # priority 2 wins over 1
    assert "layer fast" in fix.reason
    assert router.choose("issue_detector", "a.py").source == "learned"  # inactive rule


def test_rules_are_validated(store: Store):
    with pytest.raises(heuristics.RuleError, match="regular expression"):
        heuristics.upsert_rule(store, pattern="(", preferred_model=A)
    with pytest.raises(heuristics.RuleError, match="preferredLayer"):
        heuristics.upsert_rule(store, pattern="x", preferred_layer="huge")
    with pytest.raises(heuristics.RuleError, match="needs a preferredModel"):
        heuristics.upsert_rule(store, pattern="x")


def spend(store: Store, dollars: float) -> None:
    outcome = CallOutcome("issue_detector", ModelTarget(B), "ok", cost_usd=dollars)
    store.record_call(None, outcome)


def test_budget_spent_stops_or_routes_to_the_cheapest(store: Store):
    spend(store, 0.30)
    under = make_router(store, budget={"dailyUsd": 1.0})
    under.refresh()
    assert under.choose("issue_detector").source == "learned"

    spend(store, 0.80)
    stop = make_router(store, budget={"dailyUsd": 1.0, "whenExceeded": "stop"})
    stop.refresh()
    stopped = stop.choose("issue_detector")
    assert stopped.source == "budget" and stopped.targets == []
    assert "$1.00" in stopped.notices[0] and "kaizen.budget.dailyUsd" in stopped.notices[0]
    assert "$1.1000 today" in stopped.reason

    cheap = make_router(store, budget={"dailyUsd": 1.0})
    cheap.refresh()
    chosen = cheap.choose("improvement_generator")
    assert chosen.source == "budget" and [t.model for t in chosen.targets] == [FAST]
    assert "cheapest model, openai/model-fast" in chosen.notices[0]


def test_router_without_a_database_still_routes():
    router = ModelRouter(Settings.model_validate({"layers": {"balanced": [A, B]}}))
    assert [t.model for t in router.choose("issue_detector").targets] == [A, B]
    assert router.choose("issue_detector").source == "learned"

"""The contextual routing policy: it learns which model is best where, trades quality for
cost with one knob, yields to explicit choices and rules, and keeps what it learned in
the database across restarts and across a team's processes (SQLite; PostgreSQL too)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from kaizen.config import Settings
from kaizen.core.embed import HashingEmbedder
from kaizen.improvement import heuristics, router_state
from kaizen.improvement.routing_record import wire_router
from kaizen.memory.store import Store
from kaizen.models.contextual import ContextualConfig, reward_of
from kaizen.models.contextual_router import ContextualRouter
from kaizen.models.features import Featurizer, TaskContext, code_features
from kaizen.models.router import ModelRouter

A, B = "openai/model-a", "openai/model-b"
SQL = [
    "select",
    "join",
    "index",
    "table",
    "query",
    "database",
    "transaction",
    "rollback",
    "cursor",
    "schema",
]
CSS = [
    "flexbox",
    "margin",
    "padding",
    "color",
    "layout",
    "grid",
    "selector",
    "font",
    "border",
    "stylesheet",
]
# P(success): A is good at SQL, B at CSS
QUALITY = {("sql", A): 0.9, ("sql", B): 0.2, ("css", A): 0.2, ("css", B): 0.9}


def small_router(seed: int = 0, **config: float) -> ContextualRouter:
    """A fast featuriser (256-dim embedding, basis of rank 8 from 40 texts)."""
    featurizer = Featurizer(HashingEmbedder(256), basis_size=40, rank=8)
    return ContextualRouter(featurizer, ContextualConfig(**config), random.Random(seed))  # type: ignore[arg-type]


def task_text(rng: random.Random) -> tuple[str, str]:
    region = rng.choice(("sql", "css"))
    words = rng.sample(SQL if region == "sql" else CSS, 6)
    return region, f"Review this change: {' '.join(words)}"


def stream(router: ContextualRouter, rng: random.Random, n: int, **decide: object) -> list[bool]:
    """Route ``n`` tasks, reveal only the chosen model's outcome; True where the choice
    was the better model for the task's region."""
    right = []
    for _ in range(n):
        region, text = task_text(rng)
        routed = router.route(TaskContext("issue_detector", text, is_code=False))
        decision = router.decide(
            routed, [A, B], {A: 1.0, B: 1.0}, 0.0, {A: 0.55, B: 0.55}, **decide
        )  # type: ignore[arg-type]
        model = decision.model if decision else rng.choice((A, B))  # cold: either
        router.observe(routed, model, float(rng.random() < QUALITY[(region, model)]))
        right.append(QUALITY[(region, model)] > 0.5)
    return right


def test_learns_the_best_model_per_region_from_bandit_feedback():
    router, rng = small_router(), random.Random(1)
    stream(router, rng, 400)
    assert router.basis is not None and router.policy.ready([A, B])
    # greedy decisions on fresh tasks: the better model of each region
    assert sum(stream(router, rng, 200, sample=False)) >= 190


def test_the_cost_weight_trades_quality_for_cost():
    router, rng = small_router(), random.Random(2)
    stream(router, rng, 300)
    sql_text = "Review this change: select join index table query schema"
    routed = router.route(TaskContext("issue_detector", sql_text, is_code=False))
    costs, priors = {A: 1.0, B: 0.01}, {A: 0.55, B: 0.55}
    # A is better on SQL by ~0.7: chosen unless its cost is weighted above that
    assert router.decide(routed, [A, B], costs, 0.0, priors, sample=False).model == A  # type: ignore[union-attr]
    assert router.decide(routed, [A, B], costs, 2.0, priors, sample=False).model == B  # type: ignore[union-attr]


def test_cold_until_enough_outcomes_then_contextual():
    router, rng = small_router(min_observations=30), random.Random(4)
    _, text = task_text(rng)
    routed = router.route(TaskContext("issue_detector", text, is_code=False))
    assert router.decide(routed, [A, B], {}, 0.1, {}) is None  # no basis yet
    stream(router, rng, 60)
    routed = router.route(TaskContext("issue_detector", text, is_code=False))
    decision = router.decide(routed, [A, B], {}, 0.1, {A: 0.5, B: 0.5})
    assert decision is not None and "contextual" in decision.reason


def test_outcomes_map_to_rewards():
    assert reward_of("accepted") == reward_of("fixed_by_hand") == 1.0
    for failure in ("dismissed", "rejected", "ignored", "invalid", "ungrounded", "error"):
        assert reward_of(failure) == 0.0
    assert reward_of("open") is None
    assert len(code_features("def f(x):\n    # twice\n    return x * 2\n")) == 5


# the router: precedence -------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path):
    store = Store.open(tmp_path / "kaizen.db")
    yield store
    store.close()


def warm_router(store: Store, **settings: object) -> ModelRouter:
    options = {"layers": {"balanced": [A, B]}, **settings}
    router = ModelRouter(Settings.model_validate(options), contextual=small_router(5))
    wire_router(router, store)
    rng = random.Random(6)
    for _ in range(300):
        region, text = task_text(rng)
        choice = router.choose("issue_detector", "src/app.sql", TaskContext("issue_detector", text))
        model = choice.targets[0].model
        assert choice.routed is not None
        router.contextual.observe(
            choice.routed, model, float(rng.random() < QUALITY[(region, model)])
        )
    return router


def test_router_uses_the_contextual_policy_once_warm(store: Store):
    router = warm_router(store)
    css = TaskContext("issue_detector", "Review this change: flexbox margin padding grid font")
    wins = [
        router.choose("issue_detector", "web/site.css", css).targets[0].model for _ in range(20)
    ]
    assert wins.count(B) >= 16  # Thompson sampling still explores a little
    choice = router.choose("issue_detector", "web/site.css", css)
    assert choice.source == "learned" and choice.reason.startswith("contextual")
    assert choice.routed is not None and choice.routed.model == choice.targets[0].model


def test_explicit_choice_and_rules_win_over_the_contextual_policy(store: Store):
    css = TaskContext("issue_detector", "Review this change: flexbox margin padding grid font")
    explicit = warm_router(store, autofix={"provider": "openai", "model": "model-a"})
    choice = explicit.choose("issue_detector", "web/site.css", css)
    assert choice.source == "explicit" and choice.targets[0].model == A

    router = warm_router(store)
    heuristics.upsert_rule(store, pattern=r"^web/", preferred_model=A, priority=5)
    router.refresh()
    ruled = router.choose("issue_detector", "web/site.css", css)
    assert ruled.source == "rule" and ruled.targets[0].model == A


# the record: restart and team -------------------------------------------------------------


def learn(router: ContextualRouter, rng: random.Random, n: int) -> None:
    stream(router, rng, n)


def check_restart_and_team(store: Store) -> None:
    rng = random.Random(7)
    first = small_router(1)
    learn(first, rng, 200)
    router_state.sync(store, first)
    assert first.basis is not None

    # a restart: a fresh process adopts the stored basis and sums
    again = small_router(2)
    router_state.sync(store, again)
    assert again.basis is not None and again.basis.id == first.basis.id
    x = again.route(TaskContext("issue_detector", "select join index table")).features
    assert x is not None
    for model in (A, B):
        assert again.policy.stats(model).n == first.policy.stats(model).n
        assert again.policy.predict(model, x, 0.5) == pytest.approx(
            first.policy.predict(model, x, 0.5)
        )

    # a team: two processes learn at once; their updates add up, none lost or doubled
    before = sum(again.policy.stats(m).n for m in (A, B))
    learn(first, rng, 50)
    learn(again, rng, 70)
    router_state.sync(store, first)
    router_state.sync(store, again)
    router_state.sync(store, first)
    third = small_router(3)
    router_state.sync(store, third)
    total = sum(third.policy.stats(m).n for m in (A, B))
    assert total == before + 50 + 70
    assert sum(first.policy.stats(m).n for m in (A, B)) == total
    precision = sum(third.policy.stats(m).precision for m in (A, B))
    assert np.allclose(precision, sum(first.policy.stats(m).precision for m in (A, B)))


def test_survives_restart_and_merges_a_team_on_sqlite(store: Store):
    check_restart_and_team(store)


def test_survives_restart_and_merges_a_team_on_postgresql(pg_url: str):
    store = Store.open(pg_url)
    try:
        check_restart_and_team(store)
    finally:
        store.close()


def test_a_later_finding_outcome_is_learned_in_its_decision_context(store: Store):
    router = small_router(8)
    learn(router, random.Random(9), 100)
    router_state.sync(store, router)
    routed = router.route(TaskContext("issue_detector", "select join index", run_id=41))
    routed.model = A
    router_state.sync(store, router, [routed])
    n = router_state.load_stats(store, routed.basis_id or "")[A].n
    assert router_state.credit(store, routed.id, A, 1.0)
    assert router_state.load_stats(store, routed.basis_id or "")[A].n == n + 1
    assert not router_state.credit(store, "no-such-decision", A, 1.0)


def test_the_first_basis_written_is_the_teams(store: Store):
    one, two = small_router(10), small_router(11)
    learn(one, random.Random(12), 60)
    learn(two, random.Random(13), 60)  # fits a different basis meanwhile
    router_state.sync(store, one)
    router_state.sync(store, two)
    assert one.basis is not None and two.basis is not None and two.basis.id == one.basis.id


def test_an_accepted_finding_trains_the_policy_through_its_run(store: Store):
    from kaizen.core.findings import Finding
    from kaizen.improvement.events import record_finding_outcome

    router = small_router(14)
    learn(router, random.Random(15), 100)
    run_id = store.start_run("autofix", "file:///x.sql", "acme", "sql", 1)
    routed = router.route(TaskContext("issue_detector", "select join index", "sql", run_id=run_id))
    routed.model = A
    router_state.sync(store, router, [routed])
    finding = Finding("autofix", "bug", "warning", 1, 1, "m", model=A, fingerprint="fp-1")
    store.save_findings(run_id, "acme", "file:///x.sql", "sql", [finding])
    n = router_state.load_stats(store, routed.basis_id or "")[A].n
    record_finding_outcome(store, finding, "accepted")
    assert router_state.load_stats(store, routed.basis_id or "")[A].n == n + 1

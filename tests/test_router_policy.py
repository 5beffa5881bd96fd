"""The learned routing policy, as a pure function of the record (no database, no network)."""

from __future__ import annotations

import random
from collections import Counter

from kaizen.models.policy import LearnedPolicy, PolicyConfig, Stats, estimates, layer_order, rank

CHEAP, MID, STRONG = "openai/cheap", "openai/mid", "openai/strong"
PRICES = {CHEAP: 0.0005, MID: 0.005, STRONG: 0.05}


def stats(model: str, calls: int, ok: int, accepted: int = 0, rejected: int = 0) -> Stats:
    return Stats(model, calls, float(ok), accepted, rejected, 100.0 * calls, 0.0)


def greedy(**overrides: float) -> LearnedPolicy:
    """No exploration: the exploit decision only."""
    config = PolicyConfig(epsilon=0.0, warmup_epsilon=0.0, **overrides)  # type: ignore[arg-type]
    return LearnedPolicy(config, random.Random(0))


def test_cold_start_uses_the_configured_order():
    decision = greedy().decide([STRONG, CHEAP], {}, PRICES)
    assert decision.model == STRONG
    assert "measuring" in decision.reason and not decision.explored


def test_one_lucky_call_does_not_win():
    record = {STRONG: stats(STRONG, 20, 19), CHEAP: stats(CHEAP, 1, 1)}
    assert greedy().decide([STRONG, CHEAP], record, PRICES).model == STRONG
    # ... and neither do two: a model is trusted after min_calls calls
    record[CHEAP] = stats(CHEAP, 2, 2)
    assert greedy().decide([STRONG, CHEAP], record, PRICES).model == STRONG


def test_cheapest_within_tolerance_of_the_best_wins():
    record = {
        STRONG: stats(STRONG, 100, 97),
        MID: stats(MID, 100, 95),
        CHEAP: stats(CHEAP, 100, 70),
    }
    decision = greedy().decide([STRONG, MID, CHEAP], record, PRICES)
    assert decision.model == MID
    assert "cheapest within 5% of the best" in decision.reason
    # the fallback order is by quality: the best first after the choice
    assert decision.order() == [MID, STRONG, CHEAP]


def test_accepted_and_dismissed_findings_count():
    # both always answer validly, but the cheap model's findings are mostly dismissed
    record = {
        STRONG: stats(STRONG, 60, 60, accepted=40, rejected=5),
        CHEAP: stats(CHEAP, 60, 60, accepted=10, rejected=35),
    }
    assert greedy().decide([STRONG, CHEAP], record, PRICES).model == STRONG
    record[CHEAP] = stats(CHEAP, 60, 60, accepted=40, rejected=5)
    assert greedy().decide([STRONG, CHEAP], record, PRICES).model == CHEAP


def test_a_model_that_keeps_failing_is_neither_chosen_nor_explored():
    record = {CHEAP: stats(CHEAP, 5, 0), STRONG: stats(STRONG, 5, 5)}
    policy = LearnedPolicy(PolicyConfig(epsilon=0.5), random.Random(1))
    picks = Counter(policy.decide([CHEAP, STRONG], record, PRICES).model for _ in range(300))
    assert picks == {STRONG: 300}


def test_unmeasured_models_get_measured_and_exploration_is_seeded():
    def run(seed: int) -> list[str | None]:
        """200 decisions, each call recorded as a success (the record grows as in use)."""
        policy = LearnedPolicy(PolicyConfig(), random.Random(seed))
        record = {STRONG: stats(STRONG, 50, 48)}
        picks = []
        for _ in range(200):
            model = policy.decide([STRONG, MID, CHEAP], record, PRICES).model
            assert model is not None
            old = record.get(model) or Stats(model)
            record[model] = stats(model, old.calls + 1, int(old.successes) + 1)
            picks.append(model)
        return picks

    first = run(7)
    assert first == run(7)  # same seed, same decisions
    counts = Counter(first)
    assert counts[MID] >= 3 and counts[CHEAP] >= 3  # the new models got measured...
    assert counts[CHEAP] > 150  # ... and the cheap one, as good, took over


def test_exploration_tries_a_dearer_model_that_may_be_better():
    # the strong model was unlucky on its three calls; it may be better than the pick
    record = {MID: stats(MID, 40, 30), STRONG: stats(STRONG, 3, 2)}
    policy = LearnedPolicy(PolicyConfig(epsilon=1.0), random.Random(0))
    decision = policy.decide([MID, STRONG], record, PRICES)
    assert decision.model == STRONG and decision.explored


def test_all_poor_models_keep_measuring_then_take_the_least_bad():
    record = {CHEAP: stats(CHEAP, 5, 0)}
    assert greedy().decide([CHEAP, MID], record, PRICES).model == MID
    record[MID] = stats(MID, 5, 1)
    decision = greedy().decide([CHEAP, MID], record, PRICES)
    assert decision.model == MID and "least bad" in decision.reason


def test_a_model_weak_on_other_task_types_starts_lower():
    record = {CHEAP: stats(CHEAP, 3, 3), MID: stats(MID, 3, 3)}
    others = {
        CHEAP: stats(CHEAP, 50, 50, accepted=10, rejected=40),
        MID: stats(MID, 50, 50, accepted=45, rejected=5),
    }
    record = {
        CHEAP: stats(CHEAP, 3, 3, accepted=2, rejected=1),
        MID: stats(MID, 3, 3, accepted=2, rejected=1),
    }
    by_model = {e.model: e for e in estimates([CHEAP, MID], record, PRICES, others=others)}
    assert by_model[CHEAP].quality < by_model[MID].quality


def test_measured_costs_beat_price_hints():
    record = {
        CHEAP: Stats(CHEAP, 10, 10.0, total_cost_usd=1.0),  # $0.10 a call in practice
        MID: Stats(MID, 10, 10.0, total_cost_usd=0.05),
    }
    assert greedy().decide([CHEAP, MID], record, PRICES).model == MID


def test_rank_orders_qualifying_models_cheapest_first():
    record = {
        STRONG: stats(STRONG, 100, 97),
        MID: stats(MID, 100, 95),
        CHEAP: stats(CHEAP, 100, 40),
    }
    ranking = [e.model for e in rank([CHEAP, MID, STRONG, "openai/new"], record, PRICES)]
    assert ranking == [MID, STRONG, CHEAP, "openai/new"]


def test_layer_order_prefers_the_task_layer_then_cheaper_then_dearer():
    layers = {"fast": ["f1"], "balanced": ["b1", "b2"], "deep": ["d1"]}
    assert layer_order(layers, "balanced") == ["b1", "b2", "f1", "d1"]
    assert layer_order(layers, "deep") == ["d1", "b1", "b2", "f1"]
    assert layer_order(layers, "fast") == ["f1", "b1", "b2", "d1"]
    assert layer_order({"balanced": ["x"], "custom": ["y"]}, "balanced") == ["x", "y"]

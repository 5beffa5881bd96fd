"""The learned routing policy: from recorded outcomes, the cheapest model that is good enough.

Pure: no database, no litellm, no clock. The router feeds it the ``model_performance`` rows
of one task type; ``benchmarks/bench_router.py`` feeds it simulated and replayed outcomes
through exactly the same code.

Quality of a model on a task type is the chance that a call is useful:

    quality = P(the answer validates) x P(its findings are accepted | shown)

Each factor is a Beta posterior mean. Its prior is the pooled rate of all candidates on the
task type (strength ``prior_strength`` pseudo-calls), lifted or lowered by how the model
does against the pool on the *other* task types (``others``), so one lucky call leaves a
model near the pool rather than at 100%, and a model that is weak everywhere starts weak on
a new task type. The acceptance factor appears once some accept / dismiss is on record for
the task type. The posterior standard deviation gives the uncertainty.

The choice, among models with at least ``min_calls`` calls: the best quality sets a
threshold ``best * (1 - tolerance)``; a model qualifies when its quality clears it by
``confidence`` standard deviations; the cheapest qualifying one wins (ties: better quality,
then the configured order). With probability ``epsilon`` (``warmup_epsilon`` while some
candidate is unmeasured) the policy explores instead: the most promising model (highest
upper bound) among the unmeasured, the cheaper ones that might qualify, and the dearer ones
that might be better than the best. Before anything is measured, or when the best measured
model is poor, it measures the next unmeasured model in the configured order. A seeded
``random.Random`` makes every decision reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

LAYERS = ("fast", "balanced", "deep")  # cheapest first


@dataclass(frozen=True)
class Stats:
    """Sums for one model on one task type (a ``model_performance`` row)."""

    model: str
    calls: int = 0
    successes: float = 0.0  # answers that validated
    accepted: int = 0  # findings the user accepted (or fixed by hand)
    rejected: int = 0  # findings the user dismissed
    total_latency_ms: float = 0.0
    total_cost_usd: float = 0.0
    total_completion_tokens: float = 0.0  # what cost prediction learns from
    dropped: int = 0  # findings grounding dropped: against the model, but no user's act

    @property
    def avg_latency_ms(self) -> float:
        return self.total_latency_ms / self.calls if self.calls else 0.0

    @property
    def avg_cost_usd(self) -> float:
        return self.total_cost_usd / self.calls if self.calls else 0.0

    @property
    def success_rate(self) -> float:
        return self.successes / self.calls if self.calls else 0.0

    @property
    def feedback(self) -> int:
        """Findings judged: accepted or dismissed by the user, or dropped by grounding."""
        return self.accepted + self.rejected + self.dropped

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.feedback if self.feedback else None

    def __add__(self, other: Stats) -> Stats:
        return Stats(
            self.model,
            self.calls + other.calls,
            self.successes + other.successes,
            self.accepted + other.accepted,
            self.rejected + other.rejected,
            self.total_latency_ms + other.total_latency_ms,
            self.total_cost_usd + other.total_cost_usd,
            self.total_completion_tokens + other.total_completion_tokens,
            self.dropped + other.dropped,
        )


@dataclass(frozen=True)
class PolicyConfig:
    tolerance: float = 0.05  # relative: a model within 5% of the best qualifies
    epsilon: float = 0.05  # share of decisions spent exploring
    warmup_epsilon: float = 0.2  # the share while some candidate is still unmeasured
    min_calls: int = 3  # calls before a model's record is trusted
    prior_strength: float = 2.0  # pseudo-calls of the prior in each posterior
    cross_strength: float = 5.0  # pseudo-calls pulling a model's lift elsewhere toward 1
    confidence: float = 0.5  # standard deviations a cheaper model must clear to qualify
    z: float = 1.0  # width of the exploration bounds, in standard deviations
    floor: float = 0.5  # below this, the best model is poor: keep measuring others


@dataclass(frozen=True)
class Estimate:
    model: str
    quality: float
    sd: float
    lower: float
    upper: float
    calls: int
    cost_usd: float  # per call: measured, else the price hint, else 0
    latency_ms: float
    success_rate: float
    acceptance: float | None
    order: int  # position in the configured candidate list

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "quality": round(self.quality, 4),
            "lower": round(self.lower, 4),
            "upper": round(self.upper, 4),
            "calls": self.calls,
            "successRate": round(self.success_rate, 4),
            "acceptance": None if self.acceptance is None else round(self.acceptance, 4),
            "avgLatencyMs": round(self.latency_ms, 1),
            "avgCostUsd": self.cost_usd,
        }


@dataclass
class Decision:
    model: str | None
    reason: str
    explored: bool = False
    estimates: list[Estimate] = field(default_factory=list)

    def order(self) -> list[str]:
        """The chosen model, then the others by estimated quality (the fallback order)."""
        rest = sorted(
            (e for e in self.estimates if e.model != self.model),
            key=lambda e: (-e.quality, e.order),
        )
        return ([self.model] if self.model else []) + [e.model for e in rest]


def elsewhere(stats: Mapping[str, Mapping[str, Stats]], task_type: str) -> dict[str, Stats]:
    """Each model's sums over the task types other than ``task_type`` (the cross-task prior)."""
    out: dict[str, Stats] = {}
    for task, rows in stats.items():
        if task != task_type:
            for model, row in rows.items():
                out[model] = out[model] + row if model in out else row
    return out


def layer_order(layers: Mapping[str, Sequence[str]], layer: str) -> list[str]:
    """Candidate models for a task of ``layer``: that layer's models (its first is the
    default), then the cheaper layers nearest first, then the dearer ones nearest first."""
    at = LAYERS.index(layer) if layer in LAYERS else 1
    order = [LAYERS[at], *reversed(LAYERS[:at]), *LAYERS[at + 1 :]]
    order += [name for name in layers if name not in order]
    out: list[str] = []
    for name in order:
        out += [m for m in layers.get(name, ()) if m not in out]
    return out


def _lifts(counts: Sequence[tuple[float, float]], strength: float) -> list[float]:
    """Each model's rate relative to the pool's, shrunk toward 1 when it has little data."""
    total = sum(n for _, n in counts)
    if not total:
        return [1.0] * len(counts)
    pooled = (sum(s for s, _ in counts) + 1) / (total + 2)
    return [((s + strength * pooled) / (n + strength)) / pooled for s, n in counts]


def _posterior(hits: float, n: float, prior: float, k: float) -> tuple[float, float]:
    mean = (hits + k * prior) / (n + k)
    return mean, mean * (1 - mean) / (n + k + 1)


def estimates(
    candidates: Sequence[str],
    stats: Mapping[str, Stats],
    prices: Mapping[str, float] | None = None,
    config: PolicyConfig | None = None,
    others: Mapping[str, Stats] | None = None,
) -> list[Estimate]:
    """Quality, uncertainty, cost and latency of each candidate, in candidate order.

    ``others``: each model's sums on the other task types (the cross-task prior)."""
    cfg = config or PolicyConfig()
    prices = prices or {}
    rows = [stats.get(m) or Stats(m) for m in candidates]
    away = [(others or {}).get(m) or Stats(m) for m in candidates]
    calls = sum(r.calls for r in rows)
    feedback = sum(r.feedback for r in rows)
    pool_valid = (sum(r.successes for r in rows) + 1) / (calls + 2)
    pool_accept = (sum(r.accepted for r in rows) + 1) / (feedback + 2)
    lift_valid = _lifts([(o.successes, o.calls) for o in away], cfg.cross_strength)
    lift_accept = _lifts([(o.accepted, o.feedback) for o in away], cfg.cross_strength)
    k = cfg.prior_strength
    out: list[Estimate] = []
    for i, r in enumerate(rows):
        valid, v_var = _posterior(r.successes, r.calls, min(0.99, pool_valid * lift_valid[i]), k)
        accept, a_var = 1.0, 0.0
        if feedback:
            prior = min(0.99, pool_accept * lift_accept[i])
            accept, a_var = _posterior(r.accepted, r.feedback, prior, k)
        quality = valid * accept
        sd = math.sqrt(accept * accept * v_var + valid * valid * a_var)
        measured_cost = r.calls > 0 and r.total_cost_usd > 0
        out.append(
            Estimate(
                model=r.model,
                quality=quality,
                sd=sd,
                lower=max(0.0, quality - cfg.z * sd),
                upper=min(1.0, quality + cfg.z * sd),
                calls=r.calls,
                cost_usd=r.avg_cost_usd if measured_cost else prices.get(r.model, 0.0),
                latency_ms=r.avg_latency_ms,
                success_rate=r.success_rate,
                acceptance=r.acceptance,
                order=i,
            )
        )
    return out


def _cheapest(e: Estimate) -> tuple[float, float, int]:
    return (e.cost_usd, -e.quality, e.order)


def _fewest_calls(e: Estimate) -> tuple[int, float, int]:
    return (e.calls, e.cost_usd, e.order)


def _promise(e: Estimate) -> tuple[float, float, int]:
    return (e.upper, -e.cost_usd, -e.order)


def _describe(e: Estimate) -> str:
    return f"quality {e.quality:.2f} over {e.calls} calls, ${e.cost_usd:.5f}/call"


@dataclass
class _Standing:
    """Where the candidates stand before any exploration."""

    ests: list[Estimate]
    measured: list[Estimate]
    unmeasured: list[Estimate]
    best: Estimate | None
    threshold: float
    eligible: list[Estimate]


def _standing(ests: list[Estimate], cfg: PolicyConfig) -> _Standing:
    measured = [e for e in ests if e.calls >= cfg.min_calls]
    unmeasured = [e for e in ests if e.calls < cfg.min_calls]
    best = max(measured, key=lambda e: (e.quality, -e.order)) if measured else None
    threshold = best.quality * (1 - cfg.tolerance) if best else 1.0
    eligible = [e for e in measured if e is best or e.quality - cfg.confidence * e.sd >= threshold]
    return _Standing(ests, measured, unmeasured, best, threshold, eligible)


def rank(
    candidates: Sequence[str],
    stats: Mapping[str, Stats],
    prices: Mapping[str, float] | None = None,
    config: PolicyConfig | None = None,
    others: Mapping[str, Stats] | None = None,
) -> list[Estimate]:
    """The candidates in the policy's order of preference, without exploration (for
    reports): qualifying models cheapest first, then the others by quality, unmeasured last."""
    cfg = config or PolicyConfig()
    st = _standing(estimates(candidates, stats, prices, cfg, others), cfg)
    good = sorted(st.eligible, key=_cheapest)
    rest = sorted((e for e in st.measured if e not in good), key=lambda e: -e.quality)
    return good + rest + st.unmeasured


class LearnedPolicy:
    def __init__(self, config: PolicyConfig | None = None, rng: random.Random | None = None):
        self.config = config or PolicyConfig()
        self.rng = rng or random.Random()

    def decide(
        self,
        candidates: Sequence[str],
        stats: Mapping[str, Stats],
        prices: Mapping[str, float] | None = None,
        others: Mapping[str, Stats] | None = None,
    ) -> Decision:
        if not candidates:
            return Decision(None, "no candidate models")
        cfg = self.config
        st = _standing(estimates(candidates, stats, prices, cfg, others), cfg)
        explore = self.rng.random() < (cfg.warmup_epsilon if st.unmeasured else cfg.epsilon)
        best = st.best

        if best is None or best.quality < cfg.floor:
            if not st.unmeasured:  # everything measured and everything poor: the least bad
                assert best is not None
                return Decision(best.model, f"least bad: {_describe(best)}", False, st.ests)
            new = min(st.unmeasured, key=_fewest_calls) if explore else st.unmeasured[0]
            why = "no model measured yet" if best is None else "the measured models are poor"
            reason = f"measuring {new.model} ({why}; {new.calls} calls so far)"
            return Decision(new.model, reason, explore, st.ests)

        pick = min(st.eligible, key=_cheapest)
        if explore:
            pool = [
                e
                for e in st.ests
                if e not in st.eligible
                and (
                    e.calls < cfg.min_calls
                    or (e.cost_usd < pick.cost_usd and e.upper >= st.threshold)
                    or e.upper >= best.quality
                )
            ]
            if pool:
                other = max(pool, key=_promise)
                reason = (
                    f"exploring {other.model} ({other.calls} calls so far; otherwise {pick.model})"
                )
                return Decision(other.model, reason, True, st.ests)
        if pick is best:
            reason = f"best on record: {_describe(pick)}"
        else:
            reason = (
                f"cheapest within {cfg.tolerance:.0%} of the best ({best.model}, quality "
                f"{best.quality:.2f}): {_describe(pick)}"
            )
        return Decision(pick.model, reason, False, st.ests)

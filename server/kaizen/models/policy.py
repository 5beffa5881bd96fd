"""The learned routing policy: from recorded outcomes, the cheapest model that is good enough.

Pure: no database, no litellm, no clock. The router feeds it the ``model_performance`` rows of
one task type and the candidate models; the benchmark feeds it simulated and replayed
outcomes through exactly the same code.

Quality of a model on a task type is the chance that a call is useful:

    quality = P(answer validates) x P(findings accepted | shown)

Each factor is a posterior mean whose prior is the pooled rate of all candidates on that task
type (empirical Bayes, strength ``prior_strength``), so a model with one lucky call sits near
the pool average rather than at 100%, and the acceptance factor only appears once some
outcome (accept / dismiss) is known for the task type. Wilson bounds give the uncertainty.

The choice: among models with at least ``min_calls`` calls, take the best quality; every
model within ``tolerance`` (relative) of it qualifies, and the cheapest qualifying one wins
(ties: better quality, then the configured order). With probability ``epsilon`` the policy
explores instead: a model not measured yet, or a cheaper one whose upper bound says it
might qualify. Before any model is measured, or when the best measured one is poor, it
measures the next unmeasured model in the configured order. A seeded ``random.Random``
makes every decision reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


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
        return self.accepted + self.rejected

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.feedback if self.feedback else None


@dataclass(frozen=True)
class PolicyConfig:
    tolerance: float = 0.05  # relative: qualify with quality >= best * (1 - tolerance)
    epsilon: float = 0.1  # share of decisions spent exploring
    warmup_epsilon: float = 0.3  # the share while some candidate is still unmeasured
    decay: float = 0.0
    min_calls: int = 3  # calls before a model's record is trusted
    prior_strength: float = 2.0  # pseudo-calls of the pooled rate in each estimate
    z: float = 1.0  # width of the bounds, in posterior standard deviations
    confidence: float = 0.5  # standard deviations a cheaper model must clear to qualify
    floor: float = 0.5  # a best model below this keeps the policy measuring others


@dataclass(frozen=True)
class Estimate:
    model: str
    quality: float
    lower: float
    upper: float
    sd: float
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
            key=lambda e: (-e.quality if e.calls else -0.5, e.order),
        )
        return ([self.model] if self.model else []) + [e.model for e in rest]


def wilson(successes: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score interval of a rate; (0, 1) with no observations."""
    if n <= 0:
        return 0.0, 1.0
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def estimates(
    candidates: Sequence[str],
    stats: Mapping[str, Stats],
    prices: Mapping[str, float] | None = None,
    config: PolicyConfig | None = None,
) -> list[Estimate]:
    """Quality, bounds, cost and latency of each candidate, in candidate order."""
    config = config or PolicyConfig()
    prices = prices or {}
    rows = [stats.get(m) or Stats(m) for m in candidates]
    calls = sum(r.calls for r in rows)
    pooled_valid = (sum(r.successes for r in rows) + 1) / (calls + 2)
    feedback = sum(r.feedback for r in rows)
    pooled_accept = (sum(r.accepted for r in rows) + 1) / (feedback + 2)
    k = config.prior_strength
    out: list[Estimate] = []
    for order, r in enumerate(rows):
        valid = (r.successes + k * pooled_valid) / (r.calls + k)
        v_var = valid * (1 - valid) / (r.calls + k + 1)
        accept, a_var = 1.0, 0.0
        if feedback:
            accept = (r.accepted + k * pooled_accept) / (r.feedback + k)
            a_var = accept * (1 - accept) / (r.feedback + k + 1)
        quality = valid * accept
        sd = math.sqrt(accept * accept * v_var + valid * valid * a_var)
        cost = r.avg_cost_usd if r.calls and r.total_cost_usd > 0 else prices.get(r.model, 0.0)
        out.append(
            Estimate(
                model=r.model,
                quality=quality,
                lower=max(0.0, quality - config.z * sd),
                upper=min(1.0, quality + config.z * sd),
                sd=sd,
                calls=r.calls,
                cost_usd=cost,
                latency_ms=r.avg_latency_ms,
                success_rate=r.success_rate,
                acceptance=r.acceptance,
                order=order,
            )
        )
    return out


def _preference(e: Estimate) -> tuple[float, float, int]:
    return (e.cost_usd, -e.quality, e.order)


def _least_measured(e: Estimate) -> tuple[int, float, int]:
    return (e.calls, e.cost_usd, e.order)


def _promise(e: Estimate) -> tuple[float, float, int]:
    return (e.upper, -e.cost_usd, -e.order)


def _describe(e: Estimate) -> str:
    return f"quality {e.quality:.2f} over {e.calls} calls, ${e.cost_usd:.5f}/call"


def rank(
    candidates: Sequence[str],
    stats: Mapping[str, Stats],
    prices: Mapping[str, float] | None = None,
    config: PolicyConfig | None = None,
) -> list[Estimate]:
    """Candidates in the order the policy prefers them, without exploration (for reports):
    qualifying models cheapest first, then the rest by quality, unmeasured last."""
    config = config or PolicyConfig()
    ests = estimates(candidates, stats, prices, config)
    measured = [e for e in ests if e.calls >= config.min_calls]
    if not measured:
        return sorted(ests, key=lambda e: (-e.calls, e.order))
    threshold = max(e.quality for e in measured) * (1 - config.tolerance)
    good = sorted((e for e in measured if e.quality >= threshold), key=_preference)
    weak = sorted((e for e in measured if e.quality < threshold), key=lambda e: -e.quality)
    new = [e for e in ests if e.calls < config.min_calls]
    return good + weak + new


class LearnedPolicy:
    def __init__(self, config: PolicyConfig | None = None, rng: random.Random | None = None):
        self.config = config or PolicyConfig()
        self.rng = rng or random.Random()

    def decide(
        self,
        candidates: Sequence[str],
        stats: Mapping[str, Stats],
        prices: Mapping[str, float] | None = None,
    ) -> Decision:
        if not candidates:
            return Decision(None, "no candidate models")
        cfg = self.config
        ests = estimates(candidates, stats, prices, cfg)
        measured = [e for e in ests if e.calls >= cfg.min_calls]
        unmeasured = [e for e in ests if e.calls < cfg.min_calls]
        total = sum(e.calls for e in ests)
        rate = cfg.warmup_epsilon if unmeasured else cfg.epsilon
        if cfg.decay:
            rate *= math.sqrt(cfg.decay / (cfg.decay + total))
        explore = self.rng.random() < rate
        best = max(measured, key=lambda e: (e.quality, -e.order)) if measured else None

        if best is None or best.quality < cfg.floor:
            if not unmeasured:  # everything measured and everything poor: the least bad
                assert best is not None
                return Decision(best.model, f"best available, {_describe(best)}", False, ests)
            pick = min(unmeasured, key=_least_measured) if explore else unmeasured[0]
            why = "no model measured yet" if best is None else "measured models are poor"
            return Decision(pick.model, f"measuring ({why}; {pick.calls} calls so far)", explore, ests)

        threshold = best.quality * (1 - cfg.tolerance)
        eligible = [
            e for e in measured if e is best or e.quality - cfg.confidence * e.sd >= threshold
        ]
        pick = min(eligible, key=_preference)
        if explore:
            pool = [
                e
                for e in ests
                if e not in eligible
                and (
                    e.calls < cfg.min_calls
                    or (e.cost_usd < pick.cost_usd and e.upper >= threshold)
                    or e.upper >= best.quality
                )
            ]
            if pool:
                chosen = max(pool, key=_promise)
                return Decision(
                    chosen.model,
                    f"exploring ({chosen.calls} calls so far; would otherwise pick {pick.model})",
                    True,
                    ests,
                )
        if pick is best:
            reason = f"best on record: {_describe(pick)}"
        else:
            reason = (
                f"cheapest within {cfg.tolerance:.0%} of the best ({best.model} "
                f"{best.quality:.2f}): {_describe(pick)}"
            )
        return Decision(pick.model, reason, False, ests)

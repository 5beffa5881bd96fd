"""The contextual policy: per model, P(success | task features) with uncertainty, and the
choice that maximises expected success minus ``cost_weight`` times expected cost.

Learner: Bayesian linear regression per model (ridge prior, precision ``ridge``) over the
task features of ``models.features``, with Thompson sampling on each model's predicted
success. Why this one, from the MMLU replay (benchmarks/bench_router.py; numbers in
benchmarks/README.md):

- the statistics are sums (``sum x x^T``, ``sum r x``, counts), so a team's processes add
  their updates into one database row per model and nothing is lost or double counted;
- a decision is two small matrix-vector products per model (d = 85): ~0.1 ms for 5 models;
- in exploratory single-order replays, Thompson sampling beat LinUCB (the optimistic bonus
  kept choosing the expensive model where it was merely uncertain: online APGR 0.51 vs
  0.60) and a kernel (Nadaraya-Watson) estimator with Beta posteriors (0.58), whose cost
  also grows with every observation; importance-weighted updates did not help (0.59), a
  shared-plus-per-model (hierarchical) model barely did (+0.004) at 3x the cost;
- without exploration the router locks onto one model per cost setting (APGR 0.50).

Prior: a model's predicted success starts at its per-task success rate from
``model_performance`` (the statistics the layered policy uses), put in the intercept's
prior mean, so that with no contextual evidence the choice is today's per-task one and the
evidence moves it per region of feature space. Rewards are in [0, 1]: 1 for an accepted or
hand-fixed finding, 0 for a dismissed, ignored, invalid or ungrounded answer or an error,
graded scores as they are.

Pure: numpy and a seeded ``random.Random``; no database, no clock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .features import BIAS_VALUE

SUCCESS = frozenset({"accepted", "fixed_by_hand", "fixed"})
FAILURE = frozenset({"rejected", "dismissed", "ignored", "invalid", "ungrounded", "error"})


def reward_of(outcome: str) -> float | None:
    """1.0 / 0.0 for an outcome that trains the router, None for one that does not."""
    if outcome in SUCCESS:
        return 1.0
    if outcome in FAILURE:
        return 0.0
    return None


@dataclass
class ArmStats:
    """Sufficient statistics of one model: they add up across processes."""

    precision: np.ndarray  # sum of x x^T (the prior is added on use)
    moment: np.ndarray  # sum of r x
    n: float = 0.0
    sum_r: float = 0.0
    sum_r2: float = 0.0

    @classmethod
    def empty(cls, dim: int) -> ArmStats:
        return cls(np.zeros((dim, dim)), np.zeros(dim))

    @property
    def dim(self) -> int:
        return int(self.moment.shape[0])

    def add(self, x: np.ndarray, reward: float, weight: float = 1.0) -> None:
        self.precision += weight * np.outer(x, x)
        self.moment += weight * reward * x
        self.n += weight
        self.sum_r += weight * reward
        self.sum_r2 += weight * reward * reward

    def merged(self, other: ArmStats) -> ArmStats:
        return ArmStats(
            self.precision + other.precision,
            self.moment + other.moment,
            self.n + other.n,
            self.sum_r + other.sum_r,
            self.sum_r2 + other.sum_r2,
        )


@dataclass(frozen=True)
class ContextualConfig:
    ridge: float = 10.0  # prior precision of every coefficient
    exploration: float = 0.6  # Thompson sampling width, in posterior standard deviations
    min_observations: int = 20  # contextual outcomes on record before the policy decides
    noise_floor: float = 0.02  # lower bound of the outcome variance p(1-p)


@dataclass
class Prediction:
    model: str
    mean: float  # expected success
    sd: float  # posterior standard deviation of the mean
    cost: float  # normalised: the dearest candidate costs 1
    score: float  # sampled (or mean) success - cost_weight * cost
    observations: float

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "expectedSuccess": round(self.mean, 4),
            "sd": round(self.sd, 4),
            "relativeCost": round(self.cost, 4),
            "score": round(self.score, 4),
            "observations": self.observations,
        }


@dataclass
class ContextDecision:
    model: str
    predictions: list[Prediction] = field(default_factory=list)
    explored: bool = False
    cost_weight: float = 0.0

    def order(self) -> list[str]:
        """The chosen model, then the others by expected success (the fallback order)."""
        rest = sorted((p for p in self.predictions if p.model != self.model), key=lambda p: -p.mean)
        return [self.model, *(p.model for p in rest)]

    @property
    def reason(self) -> str:
        chosen = next(p for p in self.predictions if p.model == self.model)
        how = "exploring" if self.explored else "best expected value"
        return (
            f"contextual ({how}, cost weight {self.cost_weight:g}): expected success "
            f"{chosen.mean:.2f} +/- {chosen.sd:.2f} at relative cost {chosen.cost:.2f}"
        )


def normalised_costs(models: Sequence[str], costs: Mapping[str, float]) -> dict[str, float]:
    """Each model's cost relative to the dearest candidate (all 0 when nothing is priced),
    so that one ``cost_weight`` means the same whatever the currency amounts."""
    top = max((costs.get(m, 0.0) for m in models), default=0.0)
    return {m: (costs.get(m, 0.0) / top if top > 0 else 0.0) for m in models}


class ContextualPolicy:
    """Per-model ridge posteriors over a fixed feature space of dimension ``dim``.

    ``base`` is the state last read from the record, ``delta`` what this process learned
    since (``take_delta`` hands it over to be written); predictions use both. The inverse
    posterior precision is cached per model and kept current by rank-one updates."""

    def __init__(
        self, dim: int, config: ContextualConfig | None = None, rng: random.Random | None = None
    ) -> None:
        self.dim = dim
        self.config = config or ContextualConfig()
        self.rng = rng or random.Random()
        self.base: dict[str, ArmStats] = {}
        self.delta: dict[str, ArmStats] = {}
        self._inverse: dict[str, np.ndarray] = {}

    # state -------------------------------------------------------------------------------

    def stats(self, model: str) -> ArmStats:
        base, delta = self.base.get(model), self.delta.get(model)
        if base is None and delta is None:
            return ArmStats.empty(self.dim)
        if base is None or delta is None:
            return base or delta  # type: ignore[return-value]
        return base.merged(delta)

    def observations(self, models: Sequence[str]) -> float:
        return sum(self.stats(m).n for m in models)

    def replace_base(self, base: Mapping[str, ArmStats]) -> None:
        """Adopt the record's state (which includes every flushed delta)."""
        self.base = {m: s for m, s in base.items() if s.dim == self.dim}
        self._inverse.clear()

    def take_delta(self) -> dict[str, ArmStats]:
        """What was learned here since the last call, to be added to the record. The
        caller adds it to ``base`` (``absorb``) once written, or gives it back on failure."""
        delta, self.delta = self.delta, {}
        return delta

    def absorb(self, delta: Mapping[str, ArmStats]) -> None:
        """``delta`` is now part of the record: count it in ``base``."""
        for model, stats in delta.items():
            base = self.base.get(model)
            self.base[model] = stats if base is None else base.merged(stats)

    def restore(self, delta: Mapping[str, ArmStats]) -> None:
        """A write failed: keep ``delta`` pending."""
        for model, stats in delta.items():
            mine = self.delta.get(model)
            self.delta[model] = stats if mine is None else mine.merged(stats)

    # learning ----------------------------------------------------------------------------

    def observe(self, model: str, x: np.ndarray, reward: float) -> None:
        reward = min(1.0, max(0.0, float(reward)))
        delta = self.delta.setdefault(model, ArmStats.empty(self.dim))
        delta.add(x, reward)
        if (inverse := self._inverse.get(model)) is not None:  # Sherman-Morrison
            ax = inverse @ x
            inverse -= np.outer(ax, ax) / (1.0 + float(x @ ax))

    def _inverse_of(self, model: str) -> np.ndarray:
        if (inverse := self._inverse.get(model)) is None:
            precision = self.stats(model).precision + self.config.ridge * np.eye(self.dim)
            inverse = np.linalg.inv(precision)
            self._inverse[model] = inverse
        return inverse

    # deciding ----------------------------------------------------------------------------

    def predict(self, model: str, x: np.ndarray, prior: float) -> tuple[float, float, float]:
        """(mean, sd, observations) of ``model``'s success on ``x``; ``prior`` is its
        per-task success rate, the intercept's prior mean."""
        stats = self.stats(model)
        inverse = self._inverse_of(model)
        moment = stats.moment.copy()
        moment[-1] += self.config.ridge * prior / BIAS_VALUE  # the prior mean, in b
        theta = inverse @ moment
        mean = float(x @ theta)
        rate = min(0.99, max(0.01, prior))
        noise = max(self.config.noise_floor, rate * (1 - rate))
        sd = math.sqrt(noise * max(0.0, float(x @ inverse @ x)))
        return mean, sd, stats.n

    def ready(self, models: Sequence[str]) -> bool:
        return self.observations(models) >= self.config.min_observations

    def decide(
        self,
        candidates: Sequence[str],
        x: np.ndarray,
        costs: Mapping[str, float],
        cost_weight: float,
        priors: Mapping[str, float],
        *,
        sample: bool = True,
    ) -> ContextDecision:
        """Thompson sampling (``sample=False``: the posterior mean) over ``candidates``;
        ``costs`` in any unit (normalised here), ``priors`` per-task success rates."""
        relative = normalised_costs(candidates, costs)
        width = self.config.exploration
        predictions = []
        for model in candidates:
            mean, sd, n = self.predict(model, x, priors.get(model, 0.5))
            draw = mean + (width * sd * self.rng.gauss(0.0, 1.0) if sample else 0.0)
            cost = relative[model]
            predictions.append(Prediction(model, mean, sd, cost, draw - cost_weight * cost, n))
        # ties: the configured order (candidates come cheapest-first within a layer's list)
        best = max(predictions, key=lambda p: p.score)
        greedy = max(predictions, key=lambda p: p.mean - cost_weight * p.cost)
        return ContextDecision(best.model, predictions, best.model != greedy.model, cost_weight)

"""Replaying recorded outcomes through the router, and scoring it as RouteLLM does.

Data: one CSV, or a folder of CSVs (one domain a file). First column the prompt, then one
outcome column per model, weak first, strong second (further columns are ignored):
booleans (True/False, 1/0, yes/no) or graded scores in [0, 1]. Header names vary between
files; columns are taken by position, names only label them.

Protocol (``replay``): the prompts stream in a shuffled order; for each, the router decides
before the outcome is revealed, and only the chosen model's outcome is revealed and
learned from. ``online`` scores the whole stream while learning throughout; ``frozen``
learns on the first 30%, then scores the rest with the posterior mean and no learning.
The domain (file name) is never shown to the router: it only defines the per-domain
oracle baseline.

Metrics, exactly as RouteLLM's ``evals/evaluate.py`` computes them from (strong share,
quality) points: PGR = (q - q_weak) / (q_strong - q_weak); CPT(x) = the strong share at
which PGR first reaches x, by linear interpolation along the curve; APGR = the trapezoid
area under PGR over strong share in [0, 1]. The curve always includes the two trivial
routers (all weak at share 0, all strong at share 1), which is what RouteLLM's extreme
thresholds produce; between measured points the line is what mixing two settings at
random would achieve.
"""

from __future__ import annotations

import copy
import csv
import itertools
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .contextual import ContextualConfig
from .contextual_router import ContextualRouter
from .features import Featurizer, TaskContext
from .policy import LearnedPolicy, PolicyConfig, Stats

TRUE = {"true", "t", "yes", "y", "1", "1.0", "correct", "pass"}
FALSE = {"false", "f", "no", "n", "0", "0.0", "incorrect", "fail", ""}
FROZEN_SHARE = 0.3
# Cost-knob settings swept (cost_weight: success traded for the dearest model's cost).
COST_WEIGHTS = (
    *(0.0, 0.04, 0.08, 0.1, 0.11, 0.125, 0.14, 0.15, 0.165, 0.18, 0.2, 0.225),
    *(0.25, 0.3, 0.4, 0.6, 1.0),
)  # denser where a quality gap of ~0.1-0.2 puts the threshold; up to 1 for wider gaps
Point = tuple[float, float]  # (strong share, quality)


@dataclass
class ReplaySet:
    prompts: list[str]
    outcomes: np.ndarray  # (n prompts, n models) in [0, 1]
    models: list[str]  # column labels, weak first
    domains: list[str]  # file stem of each prompt (baselines only)

    @property
    def weak(self) -> np.ndarray:
        return self.outcomes[:, 0]

    @property
    def strong(self) -> np.ndarray:
        return self.outcomes[:, 1]

    def subset(self, index: np.ndarray) -> ReplaySet:
        return ReplaySet(
            [self.prompts[i] for i in index],
            self.outcomes[index],
            self.models,
            [self.domains[i] for i in index],
        )


def parse_outcome(value: str) -> float:
    """A boolean or a graded score in [0, 1]."""
    text = value.strip().lower()
    if text in TRUE:
        return 1.0
    if text in FALSE:
        return 0.0
    number = float(text)
    if not 0.0 <= number <= 1.0 or math.isnan(number):
        raise ValueError(f"outcome {value!r} is not a boolean or a score in [0, 1]")
    return number


def load_replay(path: Path) -> ReplaySet:
    """One CSV or every ``*.csv`` of a folder (sorted, so the set is reproducible)."""
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no CSV files in {path}")
    prompts: list[str] = []
    outcomes: list[tuple[float, float]] = []
    domains: list[str] = []
    models: list[str] = []
    for file in files:
        with file.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or len(header) < 3:
                raise ValueError(f"{file}: want a prompt column and two outcome columns")
            models = models or [header[1].strip(), header[2].strip()]
            for row in reader:
                if len(row) < 3 or not row[0].strip():
                    continue
                prompts.append(row[0])
                outcomes.append((parse_outcome(row[1]), parse_outcome(row[2])))
                domains.append(file.stem)
    return ReplaySet(prompts, np.asarray(outcomes, dtype=np.float64), models, domains)


# metrics --------------------------------------------------------------------------------


def pgr(quality: float, q_weak: float, q_strong: float) -> float:
    gap = q_strong - q_weak
    return (quality - q_weak) / gap if gap else 0.0


def curve(points: Sequence[Point], q_weak: float, q_strong: float) -> list[tuple[float, float]]:
    """(strong share, PGR) sorted by share, with the all-weak and all-strong ends."""
    pts = sorted([(0.0, q_weak), *points, (1.0, q_strong)])
    return [(share, pgr(q, q_weak, q_strong)) for share, q in pts]


def apgr(points: Sequence[Point], q_weak: float, q_strong: float) -> float:
    """Area under PGR over strong share in [0, 1] (trapezoid rule)."""
    c = curve(points, q_weak, q_strong)
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(c))


def cpt(points: Sequence[Point], target: float, q_weak: float, q_strong: float) -> float:
    """The strong share at which PGR first reaches ``target`` (linear interpolation)."""
    c = curve(points, q_weak, q_strong)
    if c[0][1] >= target:
        return c[0][0]
    for (x0, y0), (x1, y1) in itertools.pairwise(c):
        if y1 >= target:
            return x0 + (target - y0) * (x1 - x0) / (y1 - y0)
    return 1.0


def summary(points: Sequence[Point], q_weak: float, q_strong: float) -> dict[str, float]:
    return {
        "apgr": apgr(points, q_weak, q_strong),
        "cpt50": cpt(points, 0.5, q_weak, q_strong),
        "cpt80": cpt(points, 0.8, q_weak, q_strong),
    }


def threshold_points(score: np.ndarray, data: ReplaySet, bins: int = 10) -> list[Point]:
    """RouteLLM's evaluation of a scoring router: thresholds at the score's deciles (strong
    when score >= threshold, the last one strict), one point per threshold."""
    thresholds = np.quantile(score, np.linspace(0, 1, bins + 1))
    out = []
    for i, t in enumerate(thresholds):
        chosen = score > t if i == bins else score >= t
        quality = float(np.where(chosen, data.strong, data.weak).mean())
        out.append((float(chosen.mean()), quality))
    return out


def baselines(data: ReplaySet, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """Random routing, the per-domain oracle (each domain wholly to one model, ranked by
    its strong-minus-weak gap in hindsight) and the per-prompt oracle, scored the same way."""
    q_weak, q_strong = float(data.weak.mean()), float(data.strong.mean())
    jitter = rng.random(len(data.prompts)) * 1e-9  # breaks ties like a continuous score
    gap = data.strong - data.weak
    by_domain: dict[str, list[float]] = {}
    for d, g in zip(data.domains, gap, strict=True):
        by_domain.setdefault(d, []).append(float(g))
    domain_gap = {d: statistics.fmean(v) for d, v in by_domain.items()}
    scores = {
        "random": rng.random(len(data.prompts)),
        "oracle_domain": np.array([domain_gap[d] for d in data.domains]) + jitter,
        "oracle_prompt": gap + jitter,
    }
    return {
        name: summary(threshold_points(s, data), q_weak, q_strong) for name, s in scores.items()
    }


# the replay -----------------------------------------------------------------------------


@dataclass
class RunResult:
    cost_weight: float
    online: Point
    frozen: Point | None
    decision_ns: list[int] = field(default_factory=list)


def _stats_add(stats: dict[str, Stats], model: str, reward: float) -> None:
    s = stats.get(model) or Stats(model)
    good = reward >= 0.5
    stats[model] = replace(
        s,
        calls=s.calls + 1,
        successes=s.successes + 1,
        accepted=s.accepted + int(good),
        rejected=s.rejected + int(not good),
    )


def _prior(stats: dict[str, Stats], model: str, sums: dict[str, float]) -> float:
    """The per-task success rate, Beta(1, 1) prior (graded rewards count as they are)."""
    n = stats[model].calls if model in stats else 0
    return (sums.get(model, 0.0) + 1.0) / (n + 2.0)


def replay(
    data: ReplaySet,
    embeddings: np.ndarray,
    order: np.ndarray,
    cost_weight: float,
    costs: dict[str, float],
    *,
    seed: int = 0,
    config: ContextualConfig | None = None,
    frozen: bool = True,
    time_decisions: bool = False,
) -> RunResult:
    """One pass of the stream at one cost weight; the frozen copy forks at 30%."""
    weak, strong = data.models
    candidates = [strong, weak]  # the configured order: the strong model is the default
    index = {weak: 0, strong: 1}

    def fresh() -> tuple[ContextualRouter, LearnedPolicy]:
        featurizer = Featurizer(embedder=_NoEmbedder(embeddings.shape[1]))
        return (
            ContextualRouter(featurizer, config, random.Random(seed)),
            LearnedPolicy(PolicyConfig(), random.Random(seed + 1)),
        )

    router, fallback = fresh()
    stats: dict[str, Stats] = {}
    sums: dict[str, float] = {}
    cut = int(FROZEN_SHARE * len(order))
    fork: tuple[ContextualRouter, dict[str, Stats], dict[str, float]] | None = None
    online = [0.0, 0.0]  # quality, strong count
    late = [0.0, 0.0]
    timings: list[int] = []

    def choose(
        r: ContextualRouter, st: dict[str, Stats], sm: dict[str, float], i: int, sample: bool
    ) -> tuple[str, object]:
        ctx = TaskContext("replay", data.prompts[i], is_code=False)
        routed = r.route(ctx, embedding=embeddings[i])
        priors = {m: _prior(st, m, sm) for m in candidates}
        decision = r.decide(routed, candidates, costs, cost_weight, priors, sample=sample)
        if decision is not None:
            return decision.model, routed
        return fallback.decide(candidates, st, costs).model or strong, routed

    for t, i in enumerate(order):
        if frozen and t == cut:
            fork = (copy.deepcopy(router), dict(stats), dict(sums))
        started = time.perf_counter_ns() if time_decisions else 0
        model, routed = choose(router, stats, sums, int(i), True)
        if time_decisions:
            timings.append(time.perf_counter_ns() - started)
        reward = float(data.outcomes[i, index[model]])
        router.observe(routed, model, reward)  # type: ignore[arg-type]
        _stats_add(stats, model, reward)
        sums[model] = sums.get(model, 0.0) + reward
        online[0] += reward
        online[1] += model == strong
        if fork is not None:
            f_router, f_stats, f_sums = fork
            f_model, _ = choose(f_router, f_stats, f_sums, int(i), False)
            late[0] += float(data.outcomes[i, index[f_model]])
            late[1] += f_model == strong
    n = len(order)
    scored = n - cut
    return RunResult(
        cost_weight,
        (online[1] / n, online[0] / n),
        (late[1] / scored, late[0] / scored) if frozen and scored else None,
        timings,
    )


class _NoEmbedder:
    """The replay passes precomputed embeddings; this only names their dimension."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.name = f"precomputed-{dim}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:  # pragma: no cover
        raise RuntimeError("the replay passes embeddings explicitly")


def mean_ci(values: Sequence[float]) -> dict[str, float | list[float]]:
    """Mean and 95% interval (Student t over the runs)."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": m, "ci95": [m, m], "runs": list(values)}
    t = _T975.get(len(values) - 1, 1.96)
    half = t * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": m, "ci95": [m - half, m + half], "runs": list(values)}


_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}


def evaluate(
    data: ReplaySet,
    embeddings: np.ndarray,
    costs: dict[str, float],
    *,
    orders: int = 5,
    cost_weights: Sequence[float] = COST_WEIGHTS,
    config: ContextualConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Every order x every cost weight, both modes; metrics per order, then mean and CI."""
    n = len(data.prompts)
    per_mode: dict[str, list[dict[str, float]]] = {"online": [], "frozen": []}
    curves: dict[str, list[list[Point]]] = {"online": [], "frozen": []}
    base_runs: list[dict[str, dict[str, float]]] = []
    timings: list[int] = []
    for k in range(orders):
        rng = np.random.default_rng(1000 + k)
        order = rng.permutation(n)
        online_pts: list[Point] = []
        frozen_pts: list[Point] = []
        for j, w in enumerate(cost_weights):
            result = replay(
                data,
                embeddings,
                order,
                w,
                costs,
                seed=97 * k + j,
                config=config,
                time_decisions=(j == 0),
            )
            online_pts.append(result.online)
            assert result.frozen is not None
            frozen_pts.append(result.frozen)
            timings += result.decision_ns
            if progress:
                progress(
                    f"order {k + 1}/{orders} cost weight {w:g}: strong share "
                    f"{result.online[0]:.3f} quality {result.online[1]:.4f}"
                )
        tail = data.subset(order[int(FROZEN_SHARE * n) :])
        per_mode["online"].append(
            summary(online_pts, float(data.weak.mean()), float(data.strong.mean()))
        )
        per_mode["frozen"].append(
            summary(frozen_pts, float(tail.weak.mean()), float(tail.strong.mean()))
        )
        curves["online"].append(online_pts)
        curves["frozen"].append(frozen_pts)
        base_runs.append(baselines(data, rng))
    out: dict[str, object] = {}
    for mode in ("online", "frozen"):
        runs = per_mode[mode]
        q_ref = (float(data.weak.mean()), float(data.strong.mean()))
        out[mode] = {
            **{key: mean_ci([r[key] for r in runs]) for key in ("apgr", "cpt50", "cpt80")},
            "curve": [
                {
                    "costWeight": w,
                    "strongShare": statistics.fmean(c[j][0] for c in curves[mode]),
                    "quality": statistics.fmean(c[j][1] for c in curves[mode]),
                    "pgr": statistics.fmean(pgr(c[j][1], *q_ref) for c in curves[mode]),
                }
                for j, w in enumerate(cost_weights)
            ],
        }
    for name in ("random", "oracle_domain", "oracle_prompt"):
        out[name] = {
            key: mean_ci([b[name][key] for b in base_runs]) for key in ("apgr", "cpt50", "cpt80")
        }
    ns = sorted(timings)
    out["decisionMs"] = {
        "p50": ns[len(ns) // 2] / 1e6 if ns else None,
        "p95": ns[int(len(ns) * 0.95)] / 1e6 if ns else None,
        "samples": len(ns),
        "models": 2,
    }
    return out

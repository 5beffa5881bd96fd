"""Routing benchmark: what the learned policy costs and keeps of the strongest model's quality.

Usage: python benchmarks/bench_router.py [--seeds 10] [--orders 1] [--out FILE.json]
       python benchmarks/bench_router.py --replay PATH [--orders 5] [--mode online|frozen]
                                         [--format json|text] [--out FILE.json]

``--replay PATH`` (one CSV or a folder of CSVs, one domain a file; see
``kaizen.models.replay``) replays real outcomes through the contextual router at every
setting of the cost knob, over ``--orders`` shuffled orders, and reports RouteLLM's metrics
(APGR, CPT(50%), CPT(80%)) with 95% intervals beside random routing and the per-domain and
per-prompt oracles, for both modes (``--mode`` picks the one at the top level of the JSON),
and the per-decision latency of the contextual policy with 5 models. Without ``--replay``
the run is bounded for ``make bench``: the simulation below, then the same replay on the
MMLU set (../shared/data/routellm/mmlu beside the repository) over ``--orders`` (1) order.

Two streams of tasks, both routed by ``kaizen.models.policy.LearnedPolicy`` (the code the
router uses), updating the same sums ``model_performance`` holds after every call:

1. ``simulation``: a pool of five models with known quality (chance an answer is accepted),
   latency and price on six task types; a stream of 1,000 tasks with a realistic mix (the
   detectors run on every save, refactors rarely). Prices are litellm's for each model name
   at 1,500 prompt + 300 completion tokens. The qualities are assumptions, stated in POOL.
   Compared with the oracle (the best fixed choice per task type knowing the true
   qualities: the cheapest model within the policy's tolerance of the best) and with always
   calling the strongest model. Quality is the expected one (the sum of the chosen models'
   true acceptance rates); learning sees only sampled outcomes.
2. ``replay``: real per-prompt correctness of Mixtral-8x7B (weak) and GPT-4 (strong) on the
   57 MMLU domains (from RouteLLM), replayed shuffled through the contextual router
   (``kaizen.models.replay``): one task type for every prompt, the prompt text as content,
   never the domain; only the chosen model's correctness is revealed, as an accepted or
   dismissed finding would be.

Simulation curves are reported at 100/200/500/1000 tasks. Target: at least 95% of the
strongest model's quality at no more than 40% of its cost after 500 tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
# Small matrices only: BLAS threads contend on a shared 2-core machine (a 500 x 500 eigh
# took 2.8 s with 2 threads under load, 0.09 s with one).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from replay_bench import replay_report

from kaizen.core.tasks import TASKS
from kaizen.models.lazy_litellm import litellm
from kaizen.models.policy import LearnedPolicy, PolicyConfig, Stats, elsewhere, layer_order

ROOT = Path(__file__).resolve().parent
MMLU = ROOT.parent.parent / "shared" / "data" / "routellm" / "mmlu"  # beside the repository
CHECKPOINTS = (100, 200, 500, 1000)
PROMPT_TOKENS, COMPLETION_TOKENS = 1500, 300

# Assumed acceptance rates per task type (rows) and model (columns), cheapest model first.
MODELS = ("gpt-4.1-nano", "gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1", "claude-opus-4-20250514")
LATENCY_MS = (700, 900, 1100, 2200, 5200)
POOL: dict[str, tuple[float, ...]] = {
    "issue_detector:python": (0.66, 0.78, 0.86, 0.88, 0.90),
    "issue_detector:typescript": (0.60, 0.70, 0.82, 0.87, 0.89),
    "fix_generator:python": (0.80, 0.87, 0.90, 0.91, 0.92),
    "fix_generator:typescript": (0.72, 0.82, 0.88, 0.90, 0.91),
    "opportunity_detector": (0.50, 0.60, 0.72, 0.83, 0.88),
    "improvement_generator": (0.35, 0.45, 0.60, 0.76, 0.87),
}
MIX = {  # share of tasks: the detectors run on every save, refactors on request
    "issue_detector:python": 0.30,
    "issue_detector:typescript": 0.15,
    "fix_generator:python": 0.20,
    "fix_generator:typescript": 0.10,
    "opportunity_detector": 0.15,
    "improvement_generator": 0.10,
}
LAYERS = {  # a configuration: first model of a layer is its default
    "fast": ["gpt-4.1-nano", "gpt-4o-mini"],
    "balanced": ["gpt-4.1", "gpt-4.1-mini"],
    "deep": ["claude-opus-4-20250514"],
}
WEAK, STRONG = "together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for one call, from litellm's bundled cost map (0 for unknown models)."""
    entry = litellm().model_cost.get(model) or {}
    return prompt_tokens * float(entry.get("input_cost_per_token") or 0) + (
        completion_tokens * float(entry.get("output_cost_per_token") or 0)
    )


@dataclass
class Tally:
    tasks: int = 0
    quality: float = 0.0
    cost: float = 0.0
    latency_ms: float = 0.0
    strong: int = 0

    def point(self, reference: Tally) -> dict[str, float]:
        return {
            "tasks": self.tasks,
            "quality": round(self.quality / max(self.tasks, 1), 4),
            "costUsd": round(self.cost, 4),
            "qualityVsStrongest": round(self.quality / reference.quality, 4)
            if reference.quality
            else 0.0,
            "costVsStrongest": round(self.cost / reference.cost, 4) if reference.cost else 0.0,
            "strongShare": round(self.strong / max(self.tasks, 1), 4),
            "avgLatencyMs": round(self.latency_ms / max(self.tasks, 1), 1),
        }


def observe(stats: dict[str, Stats], model: str, good: bool, cost: float, latency: float) -> None:
    """The increments the store applies to a model_performance row after one call + outcome."""
    s = stats.get(model) or Stats(model)
    stats[model] = replace(
        s,
        calls=s.calls + 1,
        successes=s.successes + 1,
        accepted=s.accepted + int(good),
        rejected=s.rejected + int(not good),
        total_latency_ms=s.total_latency_ms + latency,
        total_cost_usd=s.total_cost_usd + cost,
    )


def oracle_choice(qualities: Sequence[float], costs: Sequence[float], tolerance: float) -> int:
    best = max(qualities)
    good = [i for i, q in enumerate(qualities) if q >= best * (1 - tolerance)]
    return min(good, key=lambda i: (costs[i], -qualities[i]))


def simulate(seed: int, tasks: int, config: PolicyConfig) -> dict[str, list[dict[str, float]]]:
    rng = random.Random(seed)
    policy = LearnedPolicy(config, random.Random(seed + 1))
    costs = [price(m, PROMPT_TOKENS, COMPLETION_TOKENS) for m in MODELS]
    prices = dict(zip(MODELS, costs, strict=True))
    strongest = max(range(len(MODELS)), key=lambda i: sum(POOL[t][i] * MIX[t] for t in POOL))
    stats: dict[str, dict[str, Stats]] = defaultdict(dict)
    types, weights = list(MIX), list(MIX.values())
    tallies = {"router": Tally(), "oracle": Tally(), "strongest": Tally()}
    curve: dict[str, list[dict[str, float]]] = {name: [] for name in tallies}
    for n in range(1, tasks + 1):
        task = rng.choices(types, weights)[0]
        q = POOL[task]
        candidates = layer_order(LAYERS, TASKS[task.split(":")[0]].layer)
        chosen = {
            "router": MODELS.index(
                policy.decide(candidates, stats[task], prices, elsewhere(stats, task)).model or ""
            ),
            "oracle": oracle_choice(q, costs, config.tolerance),
            "strongest": strongest,
        }
        for name, i in chosen.items():
            t = tallies[name]
            latency = rng.gauss(LATENCY_MS[i], LATENCY_MS[i] * 0.2)
            t.tasks, t.quality, t.cost = t.tasks + 1, t.quality + q[i], t.cost + costs[i]
            t.latency_ms += latency
            t.strong += i == strongest
            if name == "router":
                observe(stats[task], MODELS[i], rng.random() < q[i], costs[i], latency)
        if n in CHECKPOINTS or n == tasks:
            for name, t in tallies.items():
                curve[name].append(t.point(tallies["strongest"]))
    return curve


def mean_curve(runs: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    return [
        {key: round(statistics.fmean(run[i][key] for run in runs), 4) for key in runs[0][i]}
        for i in range(len(runs[0]))
    ]


def print_curve(title: str, curves: dict[str, list[dict[str, float]]]) -> None:
    print(f"\n{title}")
    print(
        f"{'strategy':<10} {'tasks':>6} {'quality':>8} {'q/strong':>9} {'cost $':>9} "
        f"{'c/strong':>9} {'strong%':>8}"
    )
    for name, points in curves.items():
        for p in points:
            print(
                f"{name:<10} {int(p['tasks']):>6} {p['quality']:>8.3f} "
                f"{p['qualityVsStrongest']:>9.1%} {p['costUsd']:>9.3f} "
                f"{p['costVsStrongest']:>9.1%} {p['strongShare']:>8.1%}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="simulation runs to average")
    parser.add_argument("--orders", type=int, default=None, help="5 with --replay, else 1")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--replay", type=Path, default=None, help="CSV or folder of CSVs")
    parser.add_argument("--mode", choices=("online", "frozen"), default="online")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.replay is not None:
        report = replay_report(args.replay, args.orders or 5, args.mode, args.format == "text")
        if args.format == "json":
            print(json.dumps(report, indent=2))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n")
        return 0
    out = args.out or ROOT / "results" / "router.json"
    config = PolicyConfig()
    started = time.perf_counter()

    sims = [simulate(seed, args.tasks, config) for seed in range(args.seeds)]
    simulation = {name: mean_curve([s[name] for s in sims]) for name in sims[0]}
    print_curve(
        f"Simulation: {len(MODELS)} models, {len(POOL)} task types, mean of {args.seeds} seeds",
        simulation,
    )
    at500 = next(p for p in simulation["router"] if p["tasks"] == 500)
    target = at500["qualityVsStrongest"] >= 0.95 and at500["costVsStrongest"] <= 0.40
    per_seed = [next(p for p in s["router"] if p["tasks"] == 500) for s in sims]
    spread = {
        key: [min(p[key] for p in per_seed), max(p[key] for p in per_seed)]
        for key in ("qualityVsStrongest", "costVsStrongest")
    }
    print(
        f"per-run spread at 500 tasks: quality {spread['qualityVsStrongest'][0]:.1%}-"
        f"{spread['qualityVsStrongest'][1]:.1%}, cost {spread['costVsStrongest'][0]:.1%}-"
        f"{spread['costVsStrongest'][1]:.1%} of the strongest"
    )

    replayed: dict[str, Any] = {}
    if MMLU.is_dir():
        print(f"\nMMLU replay through the contextual router ({args.orders or 1} order)")
        replayed = replay_report(MMLU, args.orders or 1, "online", True)
    elapsed = time.perf_counter() - started
    print(
        f"\nTarget after 500 simulated tasks (>= 95% quality at <= 40% cost): "
        f"{'met' if target else 'NOT met'} ({at500['qualityVsStrongest']:.1%} quality, "
        f"{at500['costVsStrongest']:.1%} cost); {elapsed:.1f} s"
    )
    result = {
        "config": config.__dict__,
        "simulation": {
            "models": list(MODELS),
            "pool": POOL,
            "mix": MIX,
            "curves": simulation,
            "targetMetAt500": target,
            "spreadAt500": spread,
        },
        "replay": replayed,
        "seconds": round(elapsed, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

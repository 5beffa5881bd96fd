"""Routing benchmark: what the learned policy costs and keeps of the strongest model's quality.

Usage: python benchmarks/bench_router.py [--seeds 10] [--mmlu-seeds 5] [--out FILE.json]

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
2. ``mmlu``: real per-prompt correctness of Mixtral-8x7B (weak) and GPT-4 (strong) on the
   57 MMLU domains (/work/shared/data/routellm, from RouteLLM), replayed shuffled; each
   domain is a task type, and only the chosen model's correctness is revealed, as an
   accepted or dismissed finding would be. Quality here is the realised correctness.

Curves are reported at 100/200/500/1000 tasks (and at the end of the MMLU replay). Target:
at least 95% of the strongest model's quality at no more than 40% of its cost after 500 tasks.
"""

from __future__ import annotations

import argparse
import csv
import json
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

from kaizen.core.tasks import TASKS
from kaizen.models.lazy_litellm import litellm
from kaizen.models.policy import LearnedPolicy, PolicyConfig, Stats, elsewhere, layer_order

ROOT = Path(__file__).resolve().parent
MMLU = Path("/work/shared/data/routellm/mmlu")
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


def load_mmlu() -> list[tuple[str, int, bool, bool]]:
    """(domain, prompt tokens, weak correct, strong correct) for every prompt."""
    rows: list[tuple[str, int, bool, bool]] = []
    for path in sorted(MMLU.glob("*.csv")):
        domain = path.stem.removeprefix("mmlu_")
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = {c.lower(): c for c in reader.fieldnames or []}
            weak = next(c for k, c in columns.items() if "mixtral" in k)
            strong = next(c for k, c in columns.items() if "gpt-4" in k)
            for row in reader:
                tokens = max(1, len(row["prompt"]) // 4)
                rows.append((domain, tokens, row[weak] == "True", row[strong] == "True"))
    return rows


def replay_mmlu(
    rows: list[tuple[str, int, bool, bool]], seed: int, config: PolicyConfig
) -> dict[str, Any]:
    rng = random.Random(seed)
    stream = rows[:]
    rng.shuffle(stream)
    policy = LearnedPolicy(config, random.Random(seed + 1))
    candidates = [STRONG, WEAK]
    stats: dict[str, dict[str, Stats]] = defaultdict(dict)
    router, strong_only = Tally(), Tally()
    checkpoints = {*CHECKPOINTS, 2000, 5000, len(stream)}
    curve = []
    for n, (domain, tokens, weak_ok, strong_ok) in enumerate(stream, 1):
        cost = {WEAK: price(WEAK, tokens, 1), STRONG: price(STRONG, tokens, 1)}
        model = policy.decide(candidates, stats[domain], {}, elsewhere(stats, domain)).model
        model = model or STRONG
        good = strong_ok if model == STRONG else weak_ok
        observe(stats[domain], model, good, cost[model], 0.0)
        router.tasks, router.quality, router.cost = (
            n,
            router.quality + good,
            router.cost + cost[model],
        )
        router.strong += model == STRONG
        strong_only.tasks, strong_only.quality = n, strong_only.quality + strong_ok
        strong_only.cost += cost[STRONG]
        strong_only.strong += 1
        if n in checkpoints:
            curve.append(router.point(strong_only))
    return {"router": curve, "strongest": strong_only.point(strong_only)}


def mmlu_oracle(rows: list[tuple[str, int, bool, bool]], tolerance: float) -> dict[str, float]:
    """Each domain sent wholly to the cheapest model within ``tolerance`` of the better one."""
    by_domain: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for domain, _tokens, weak_ok, strong_ok in rows:
        counts = by_domain[domain]
        counts[0], counts[1], counts[2] = counts[0] + 1, counts[1] + weak_ok, counts[2] + strong_ok
    quality = strong = 0
    for n, weak_ok, strong_ok in by_domain.values():
        if weak_ok >= (1 - tolerance) * strong_ok:
            quality += weak_ok
        else:
            quality, strong = quality + strong_ok, strong + n
    best = sum(c[2] for c in by_domain.values())
    return {
        "qualityVsStrongest": round(quality / best, 4),
        "strongShare": round(strong / len(rows), 4),
    }


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
    parser.add_argument("--mmlu-seeds", type=int, default=5, help="MMLU replays to average")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "router.json")
    args = parser.parse_args(argv)
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

    mmlu: dict[str, Any] = {}
    if MMLU.is_dir():
        rows = load_mmlu()
        mmlu = {"prompts": len(rows), "domains": len({r[0] for r in rows}), "runs": []}
        for tolerance in (config.tolerance, 0.15):
            cfg = replace(config, tolerance=tolerance)
            replays = [replay_mmlu(rows, seed, cfg) for seed in range(args.mmlu_seeds)]
            run = {
                "tolerance": tolerance,
                "router": mean_curve([r["router"] for r in replays]),
                "oracle": mmlu_oracle(rows, tolerance),
            }
            mmlu["runs"].append(run)
            print_curve(
                f"MMLU replay, tolerance {tolerance:.0%} ({len(rows)} prompts, "
                f"{mmlu['domains']} domains, weak Mixtral vs strong GPT-4), mean of "
                f"{args.mmlu_seeds} seeds; per-domain oracle: "
                f"{run['oracle']['qualityVsStrongest']:.1%} quality with GPT-4 on "
                f"{run['oracle']['strongShare']:.1%} of prompts",
                {"router": run["router"]},
            )
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
        "mmlu": mmlu,
        "seconds": round(elapsed, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

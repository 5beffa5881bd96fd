"""The replay half of bench_router.py: real outcomes through the contextual router.

``replay_report(path, orders, mode)`` loads the CSVs, embeds every prompt once with the
router's embedder, replays (``kaizen.models.replay.evaluate``), times decisions with five
models, and returns the JSON report (top-level ``apgr``, ``cpt50``, ``cpt80``, ``curve``,
``random``, ``oracle_domain``, ``oracle_prompt``, ``mode``; both modes in full under
``online`` / ``frozen``).
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from kaizen.core.embed import HashingEmbedder
from kaizen.models.contextual_router import ContextualRouter
from kaizen.models.features import EMBED_DIM, MAX_EMBED_CHARS, Featurizer, TaskContext
from kaizen.models.lazy_litellm import litellm
from kaizen.models.replay import COST_WEIGHTS, ReplaySet, evaluate, load_replay

COMPLETION_TOKENS = 200
ASSUMED_COST_RATIO = 0.05  # weak / strong, when litellm does not know a column's model
TARGETS = {"apgr": 0.65, "cpt50": 0.30}
ANCHORS = {
    "routellm_best": {"apgr": 0.603, "cpt50": 0.354, "cpt80": 0.7031},
    "oracle_domain_published": {"apgr": 0.703, "cpt50": 0.253, "cpt80": 0.525},
    "random_published": {"apgr": 0.500, "cpt50": 0.5007, "cpt80": 0.7993},
}


def _price_per_token(name: str) -> tuple[float, float] | None:
    cost_map = litellm().model_cost
    short = name.split("/")[-1]
    for key in (name, f"together_ai/{name}", short, f"together_ai/mistralai/{short}"):
        entry = cost_map.get(key)
        if entry and entry.get("input_cost_per_token"):
            return float(entry["input_cost_per_token"]), float(
                entry.get("output_cost_per_token") or 0.0
            )
    return None


def model_costs(data: ReplaySet) -> tuple[dict[str, float], str]:
    """USD per call of each column's model (litellm's cost map at the mean prompt size),
    else an assumed 1:20 ratio."""
    tokens = statistics.fmean(max(1, len(p) // 4) for p in data.prompts)
    prices = [_price_per_token(m) for m in data.models]
    if all(prices):
        costs = {
            m: p[0] * tokens + p[1] * COMPLETION_TOKENS  # type: ignore[index]
            for m, p in zip(data.models, prices, strict=True)
        }
        where = f"litellm cost map, {tokens:.0f} prompt + {COMPLETION_TOKENS} completion tokens"
        return costs, where
    weak, strong = data.models
    return {weak: ASSUMED_COST_RATIO, strong: 1.0}, "assumed: weak costs 1/20 of strong"


def decision_latency(data: ReplaySet, models: int = 5, samples: int = 2000) -> dict[str, Any]:
    """Per-call cost of a contextual decision among ``models`` models, featurisation of the
    prompt text included (no cache hit: each prompt is new), after 3,000 outcomes."""
    rng = random.Random(5)
    names = [f"model-{i}" for i in range(models)]
    costs = {m: 0.001 * 3**i for i, m in enumerate(names)}
    router = ContextualRouter(Featurizer(HashingEmbedder(EMBED_DIM)), rng=rng)
    prompts = data.prompts
    for i in range(3000):
        routed = router.route(TaskContext("replay", prompts[i % len(prompts)], is_code=False))
        router.observe(routed, names[i % models], float(rng.random() < 0.7))
    priors = {m: 0.7 for m in names}
    total: list[int] = []
    decide: list[int] = []
    cpu: list[int] = []
    for i in range(samples):
        text = prompts[(7919 * i + 3001) % len(prompts)] + f" #{i}"  # never cached
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        routed = router.route(TaskContext("replay", text, is_code=False))
        t1 = time.perf_counter_ns()
        router.decide(routed, names, costs, 0.1, priors)
        t2, c2 = time.perf_counter_ns(), time.thread_time_ns()
        total.append(t2 - t0)
        decide.append(t2 - t1)
        cpu.append(c2 - c0)

    def pct(values: list[int], q: float) -> float:
        return round(sorted(values)[int(len(values) * q)] / 1e6, 4)

    return {
        "models": models,
        "samples": samples,
        "p50Ms": pct(total, 0.5),
        "p95Ms": pct(total, 0.95),
        "cpuP50Ms": pct(cpu, 0.5),
        "cpuP95Ms": pct(cpu, 0.95),  # CPU time: what an idle core would take
        "decideOnlyP50Ms": pct(decide, 0.5),
        "decideOnlyP95Ms": pct(decide, 0.95),
    }


def replay_report(path: Path, orders: int, mode: str, verbose: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    data = load_replay(path)
    embedder = HashingEmbedder(EMBED_DIM)
    embeddings = np.asarray([embedder.embed_one(p[:MAX_EMBED_CHARS]) for p in data.prompts])
    costs, cost_source = model_costs(data)
    log = (lambda line: print(f"  {line}", flush=True)) if verbose else None
    result = evaluate(data, embeddings, costs, orders=orders, progress=log)
    latency = decision_latency(data)
    chosen = result[mode]
    report: dict[str, Any] = {
        "mode": mode,
        "apgr": chosen["apgr"],  # type: ignore[index]
        "cpt50": chosen["cpt50"],  # type: ignore[index]
        "cpt80": chosen["cpt80"],  # type: ignore[index]
        "curve": chosen["curve"],  # type: ignore[index]
        "random": result["random"],
        "oracle_domain": result["oracle_domain"],
        "oracle_prompt": result["oracle_prompt"],
        "online": result["online"],
        "frozen": result["frozen"],
        "decisionLatency": latency,
        "data": {
            "path": str(path),
            "prompts": len(data.prompts),
            "domains": len(set(data.domains)),
            "models": data.models,
            "qualityWeak": float(data.weak.mean()),
            "qualityStrong": float(data.strong.mean()),
            "costs": costs,
            "costSource": cost_source,
        },
        "orders": orders,
        "costWeights": list(COST_WEIGHTS),
        "targets": TARGETS,
        "anchors": ANCHORS,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if verbose:
        print_report(report)
    return report


def _fmt(m: Any) -> str:
    lo, hi = m["ci95"]
    return f"{m['mean']:.3f} [{lo:.3f}, {hi:.3f}]"


def print_report(r: dict[str, Any]) -> None:
    d = r["data"]
    print(
        f"\nReplay {d['path']}: {d['prompts']} prompts, {d['domains']} domains, weak "
        f"{d['qualityWeak']:.3f} / strong {d['qualityStrong']:.3f}; {r['orders']} orders x "
        f"{len(r['costWeights'])} cost weights; costs: {d['costSource']}"
    )
    print(f"{'router':<16} {'APGR':>22} {'CPT(50%)':>22} {'CPT(80%)':>22}")
    rows = [("online", r["online"]), ("frozen", r["frozen"])]
    rows += [(name, r[name]) for name in ("random", "oracle_domain", "oracle_prompt")]
    for name, m in rows:
        print(f"{name:<16} {_fmt(m['apgr']):>22} {_fmt(m['cpt50']):>22} {_fmt(m['cpt80']):>22}")
    print("curve (online, mean over orders): cost weight -> strong share, quality, PGR")
    for p in r["online"]["curve"]:
        print(
            f"  {p['costWeight']:>6g} -> {p['strongShare']:.3f} {p['quality']:.4f} {p['pgr']:.3f}"
        )
    lat = r["decisionLatency"]
    print(
        f"decision with {lat['models']} models: p50 {lat['p50Ms']:.3f} ms, p95 "
        f"{lat['p95Ms']:.3f} ms, CPU p95 {lat['cpuP95Ms']:.3f} ms (featurising included; "
        f"decide alone p95 "
        f"{lat['decideOnlyP95Ms']:.3f} ms); targets: APGR >= {TARGETS['apgr']}, CPT(50%) <= "
        f"{TARGETS['cpt50']:.0%}; {r['seconds']} s"
    )

"""Operations benchmark: what predictive cost, metrics and alerts add to each model call, and
how wrong the cost predictions are on a simulated history.

Usage: python benchmarks/bench_ops.py [--calls 300] [--history 1000] [--out FILE.json]

1. ``overhead``: per model call on the save path, p50 / p95 in milliseconds, beside the
   baseline measured in the same run (one real litellm call to the scripted
   OpenAI-compatible server on 127.0.0.1, the cheapest possible "model"):
   - ``predict``: ``models.predict.predict`` (litellm's ``token_counter`` on a realistic
     ~1,500-token review prompt + ``cost_per_token``), in the calling thread;
   - ``predict_via_thread``: the same through ``asyncio.to_thread``, as the router runs it
     under a budget (before the request);
   - ``scripted_call_with_overlapped_prediction``: the baseline call with the prediction
     running alongside it, as the router runs it with no budget;
   - ``observe_attempt``: the in-process Prometheus histogram;
   - ``alert_window``: the degradation monitor's read of one model's window and baseline
     from a SQLite record of 20,000 calls (after the call, on a worker thread).
   Target: predict + observe_attempt under 1 ms p95.
2. ``prediction_error``: a simulated history of three priced models on two task types whose
   completion lengths are log-normal around a per-(model, task) mean; the prediction uses the
   running mean learned from the calls before (what ``model_performance`` sums give the
   router), against the baseline of a fixed typical completion (300 tokens, no learning).
   Prompt tokens are counted exactly (the same tokenizer both sides), so the error shown is
   the completion estimate's. Reported as MAPE of cost and completion tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile, save
from tests.fixtures.scripted_model import ScriptedModel

from kaizen.config import Settings
from kaizen.core.answers import IssueReport
from kaizen.improvement import telemetry
from kaizen.improvement.alerts import AlertMonitor
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, Gateway, ModelTarget
from kaizen.models.lazy_litellm import litellm
from kaizen.models.policy import Stats
from kaizen.models.predict import predict, price

MODEL = "openai/gpt-4o-mini"


def review_messages(version: int = 0) -> list[dict[str, str]]:
    """About 2,300 tokens: instructions and learnings (the same on every call of a task) and
    numbered code (different on every call: ``version`` changes it)."""
    code = "\n".join(
        f"{i:>4} | total = compute(values[{i + version}], factor={(i * version) % 7})"
        for i in range(120)
    )
    return [
        {"role": "system", "content": "You review code for bugs. Answer in JSON. " * 40},
        {"role": "user", "content": "Historical learnings:\n- prefer early returns\n" * 10},
        {"role": "user", "content": code},
    ]


def summary(values: list[float]) -> dict[str, float]:
    """p50 / p95 to the microsecond (common.summary rounds to 10 us)."""
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50": round(ordered[len(ordered) // 2], 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(ordered[-1], 3),
    }


def timed(fn: Any, n: int, clock: Any = time.perf_counter) -> list[float]:
    out = []
    for _ in range(n):
        start = clock()
        fn()
        out.append((clock() - start) * 1000)
    return out


async def baseline_calls(n: int) -> tuple[list[float], list[float]]:
    """Round trips of the real gateway to the scripted server (the cheapest model there is),
    alternately plain and with the prediction overlapping the request on a thread (what the
    router does when no budget is set); fresh code each call."""
    with ScriptedModel() as scripted:
        gateway = Gateway(timeout_s=10, num_retries=0)
        target = ModelTarget(MODEL, scripted.url, "sk-test")
        await gateway.complete("issue_detector", target, review_messages(), IssueReport)  # warm
        plain, overlapped = [], []
        for i in range(n):
            messages = review_messages(200_000 + i)
            start = time.perf_counter()
            if i % 2:
                predicting = asyncio.ensure_future(
                    asyncio.to_thread(predict, MODEL, messages, None, 4096)
                )
                await gateway.complete("issue_detector", target, messages, IssueReport)
                await predicting
                overlapped.append((time.perf_counter() - start) * 1000)
            else:
                await gateway.complete("issue_detector", target, messages, IssueReport)
                plain.append((time.perf_counter() - start) * 1000)
        return plain, overlapped


async def via_thread(n: int) -> list[float]:
    out = []
    saves = [review_messages(100_000 + i) for i in range(n)]
    for messages in saves:
        start = time.perf_counter()
        await asyncio.to_thread(predict, MODEL, messages, Stats(MODEL, 10, 10.0), 4096)
        out.append((time.perf_counter() - start) * 1000)
    return out


def alert_reads(n: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "k.db")
        rng = random.Random(1)
        with store.sessions.begin() as s:
            from kaizen.memory.schema import ModelCall

            for i in range(20_000):
                s.add(
                    ModelCall(
                        task=("issue_detector", "fix_generator")[i % 2],
                        provider="openai",
                        model=f"openai/m{i % 5}",
                        status="ok" if rng.random() > 0.05 else "invalid",
                        latency_ms=rng.uniform(300, 3000),
                        cost_usd=0.001,
                    )
                )
        monitor, settings = AlertMonitor(), Settings().alerts
        times = timed(lambda: monitor.observe(store, settings, "openai/m1", "fix_generator"), n)
        store.close()
        return times


def overhead(calls: int) -> dict[str, Any]:
    history = Stats(MODEL, 10, 10.0, total_completion_tokens=2500.0)
    predict(MODEL, review_messages(), history, 4096)  # the tokenizer loads once per process
    prompt_tokens = predict(MODEL, review_messages(), history, 4096).prompt_tokens
    exact = litellm().token_counter(model=MODEL, messages=review_messages())
    # a new version of the code for each call, as on every save (built before timing)
    saves = iter([review_messages(v) for v in range(1, 2 * calls + 1)])

    def fresh() -> None:
        predict(MODEL, next(saves), history, 4096)

    outcome = CallOutcome("issue_detector", ModelTarget(MODEL), "ok", latency_ms=800.0)
    result = {
        "promptTokens": prompt_tokens,
        "promptTokensLitellmMessages": exact,  # litellm's own count of the whole chat
        "predict": summary(timed(fresh, calls)),
        # CPU time of the calling thread: the estimate for an idle core when other jobs
        # disturb the wall clock (the 2-core VM is shared)
        "predict_cpu": summary(timed(fresh, calls, time.thread_time)),
        "observe_attempt_cpu": summary(
            timed(lambda: telemetry.observe_attempt(outcome), calls, time.thread_time)
        ),
        "predict_via_thread": summary(asyncio.run(via_thread(calls))),
        "observe_attempt": summary(timed(lambda: telemetry.observe_attempt(outcome), calls)),
        "alert_window": summary(alert_reads(min(calls, 200))),
    }
    plain, overlapped = asyncio.run(baseline_calls(min(2 * calls, 300)))
    result["baseline_scripted_call"] = summary(plain)
    result["scripted_call_with_overlapped_prediction"] = summary(overlapped)
    added = result["predict"]["p95"] + result["observe_attempt"]["p95"]
    result["added_p95_ms"] = round(added, 3)
    cpu = result["predict_cpu"]["p95"] + result["observe_attempt_cpu"]["p95"]
    result["added_cpu_p95_ms"] = round(cpu, 3)
    result["added_over_baseline_p50"] = round(added / result["baseline_scripted_call"]["p50"], 4)
    return result


MEANS = {  # mean completion tokens per (model, task); sigma of the log-normal 0.45
    ("gpt-4o-mini", "issue_detector"): 180,
    ("gpt-4o-mini", "fix_generator"): 520,
    ("gpt-4.1-mini", "issue_detector"): 240,
    ("gpt-4.1-mini", "fix_generator"): 610,
    ("gpt-4o", "issue_detector"): 150,
    ("gpt-4o", "fix_generator"): 450,
}


def prediction_error(history: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    prompt = predict(MODEL, review_messages(), None, 4096).prompt_tokens
    sums: dict[tuple[str, str], list[float]] = {k: [0, 0.0] for k in MEANS}
    learned: list[tuple[float, float]] = []  # (cost APE, completion APE)
    fixed: list[tuple[float, float]] = []
    checkpoints: dict[str, Any] = {}
    keys = list(MEANS)
    for i in range(1, history + 1):
        model, _task = key = rng.choice(keys)
        actual = max(1, round(rng.lognormvariate(math.log(MEANS[key]), 0.45)))
        n, total = sums[key]
        guess = round(total / n) if n else 300
        actual_cost = price(model, prompt, actual) or 0.0
        for guess_of, out in ((guess, learned), (300, fixed)):
            cost = price(model, prompt, guess_of) or 0.0
            out.append((abs(cost - actual_cost) / actual_cost, abs(guess_of - actual) / actual))
        sums[key] = [n + 1, total + actual]
        if i in (50, 200, 1000, history):
            checkpoints[str(i)] = {
                "learned_cost_mape": round(sum(e[0] for e in learned) / len(learned), 4),
                "learned_completion_mape": round(sum(e[1] for e in learned) / len(learned), 4),
                "fixed_cost_mape": round(sum(e[0] for e in fixed) / len(fixed), 4),
                "fixed_completion_mape": round(sum(e[1] for e in fixed) / len(fixed), 4),
                # the last 100 calls only: the error once history exists
                "learned_cost_mape_last100": round(
                    sum(e[0] for e in learned[-100:]) / len(learned[-100:]), 4
                ),
            }
    return {"promptTokens": prompt, "checkpoints": checkpoints}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--out")
    args = parser.parse_args()
    litellm()
    results = {"overhead": overhead(args.calls), "prediction_error": prediction_error(args.history)}
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    else:
        save("ops", results)


if __name__ == "__main__":
    main()

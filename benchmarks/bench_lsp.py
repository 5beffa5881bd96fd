"""Editor-facing latency: time to answer ``initialize`` (Kaizen beside a bare pygls server,
same run) and Kaizen's own overhead from a one-function edit + didSave to the publish of the
model's finding on that edit, on a 2,000-line file with the scripted model answering
instantly (total minus the time the run spent in model calls).

    python benchmarks/bench_lsp.py [--runs 20] [--saves 40] [--baseline-server ../main/server]

``--baseline-server DIR`` measures another tree (e.g. main's ``server``) in the same run:
its start-up interleaved with this tree's and the bare server's, its saves in sessions
alternating with this tree's (``--rounds``), so a change is reported beside its baseline
under the same machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import client_capabilities, make_test_lsp_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import save, summary
from tests.fixtures.editing import edit_and_save
from tests.fixtures.scripted_model import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent


def env(home: str, server: Path = ROOT / "server") -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    out.update(KAIZEN_HOME=home, PYTHONPATH=str(server))
    return out


async def time_initialize(
    command: list[str], home: str, options: dict, server: Path = ROOT / "server"
) -> float:
    client = make_test_lsp_client()
    started = time.perf_counter()
    await client.start_io(*command, env=env(home, server))
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("neovim"), initialization_options=options
        )
    )
    elapsed = (time.perf_counter() - started) * 1000
    await client.shutdown_session()
    await client.stop()
    return elapsed


async def bench_initialize(runs: int, home: str, baseline: Path | None = None) -> dict:
    kaizen = [sys.executable, "-m", "kaizen", "serve"]
    bare = [sys.executable, str(ROOT / "benchmarks" / "bare_server.py")]
    times: dict[str, list[float]] = {"kaizen": [], "bare_pygls": []}
    if baseline is not None:
        times["baseline"] = []
    for _ in range(runs):  # interleaved so all see the same machine noise
        times["kaizen"].append(await time_initialize(kaizen, home, {}))
        times["bare_pygls"].append(await time_initialize(bare, home, {}))
        if baseline is not None:
            times["baseline"].append(await time_initialize(kaizen, home, {}, baseline))
    out: dict = {name: summary(values) for name, values in times.items()}
    out["ratio_p50"] = round(out["kaizen"]["p50"] / out["bare_pygls"]["p50"], 2)
    if baseline is not None:
        out["baseline_ratio_p50"] = round(out["baseline"]["p50"] / out["bare_pygls"]["p50"], 2)
    return out


def big_file(lines: int) -> str:
    chunk = [
        "def handler_{n}(request, retries=3):",
        "    total = 0",
        "    for item in request.items:",
        "        total += item.price * item.quantity",
        "    return total / max(len(request.items), 1)",
        "",
    ]
    out = []
    n = 0
    while len(out) < lines:
        out.extend(line.format(n=n) for line in chunk)
        n += 1
    return "\n".join(out[:lines]) + "\n"


def flag_the_edit(body: dict) -> dict:
    """A model that flags the line marked ``# edit N`` in its prompt (the one just edited)."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    for line in prompt.splitlines():
        head, _, code = line.partition(" | ")
        if "# edit " in code and head.strip().isdigit():
            return {
                "issues": [
                    {
                        "line": int(head),
                        "severity": "warning",
                        "category": "bug",
                        "message": code.split("# ", 1)[1].strip(),
                        "snippet": code.strip(),
                    }
                ]
            }
    return {"issues": []}


async def bench_save(
    saves: int, home: str, static: bool, server: Path = ROOT / "server"
) -> dict:
    """didChange + didSave of one function per save (the realistic edit: the other units
    are in the review cache), until the model's finding on the edited line is published."""
    totals, model_ms = await save_samples(saves, home, static, server)
    return save_summary(totals, model_ms)


def save_summary(totals: list[float], model_ms: list[float]) -> dict:
    overhead = [t - m for t, m in zip(totals, model_ms, strict=False)]
    return {
        "total_ms": summary(totals),
        "model_call_ms": summary(model_ms),
        "overhead_ms": summary(overhead),
    }


async def save_samples(
    saves: int, home: str, static: bool, server: Path = ROOT / "server"
) -> tuple[list[float], list[float]]:
    """One server session of ``bench_save``: each save's total and model time (ms)."""
    with ScriptedModel() as scripted, tempfile.TemporaryDirectory() as tmp:
        scripted.set_default("issue_detector", flag_the_edit)
        path = Path(tmp) / "big.py"
        text = big_file(2000)
        path.write_text(text)
        options = {
            "autofix": {
                "provider": "openai",
                "model": "bench",
                "apiBase": scripted.url,
                "apiKey": "sk-bench",
            },
            "staticPrepass": {"enabled": static},
            "trigger": {"onOpen": False},  # the first save (warm-up) reviews the whole file
            # every save's finding replaces the last one unanswered, which the confidence
            # record counts as ignored: without this the edited line's finding is soon hidden
            "review": {"minConfidence": 0},
            "localModel": False,
        }
        client = make_test_lsp_client()
        await client.start_io(sys.executable, "-m", "kaizen", "serve", env=env(home, server))
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("neovim"),
                root_uri=Path(tmp).as_uri(),
                initialization_options=options,
            )
        )
        uri = path.as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        totals: list[float] = []
        for i in range(saves + 3):
            n = (i * 7) % 300
            text = text.replace(
                f"def handler_{n}(request, retries=3):\n    total = 0\n",
                f"def handler_{n}(request, retries=3):\n    total = 0  # edit {i}\n",
                1,
            )
            started = time.perf_counter()
            edit_and_save(client, uri, i + 2, text)
            marker = f"edit {i}"
            while not any(d.message.startswith(marker) for d in client.diagnostics.get(uri, [])):
                await asyncio.wait_for(
                    client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 60
                )
            if i >= 3:  # warm-up: litellm import, first connection, the first full review
                totals.append((time.perf_counter() - started) * 1000)
        await client.shutdown_session()
        await client.stop()
    db = sqlite3.connect(Path(home) / "kaizen.db")
    model_ms = [
        r[0] for r in db.execute("select latency_ms from runs order by id desc limit ?", (saves,))
    ]
    model_ms.reverse()
    db.execute("delete from runs")
    db.commit()
    return totals, model_ms


async def bench_save_beside(
    saves: int, rounds: int, static: bool, baseline: Path
) -> tuple[dict, dict]:
    """``bench_save`` of this tree and of ``baseline`` in alternating sessions of
    ``saves / rounds`` saves each, so both see the same drift of the machine's load. Each
    session has a database of its own: the same edits in a second session would otherwise
    come from the first one's review cache, without a model call."""
    samples: list[tuple[list[float], list[float]]] = [([], []), ([], [])]
    per_round = max(1, saves // rounds)
    for _ in range(rounds):
        for (totals, model_ms), server in zip(samples, (ROOT / "server", baseline), strict=True):
            with tempfile.TemporaryDirectory() as home:
                t, m = await save_samples(per_round, home, static, server)
            totals.extend(t)
            model_ms.extend(m)
    this, other = (save_summary(t, m) for t, m in samples)
    return this, other


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument(
        "--baseline-server", type=Path, help="another tree's server/ to measure beside this one"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating save sessions per tree (baseline)"
    )
    args = parser.parse_args()
    baseline = args.baseline_server.resolve() if args.baseline_server else None
    result: dict = {}
    with tempfile.TemporaryDirectory() as home:
        result["initialize_ms"] = init = await bench_initialize(args.runs, home, baseline)
        for key, static in (("", False), ("_with_ruff", True)):
            if baseline is None:
                result[f"did_save_2000_lines{key}"] = await bench_save(args.saves, home, static)
                continue
            this, base = await bench_save_beside(args.saves, args.rounds, static, baseline)
            result[f"did_save_2000_lines{key}"] = this
            result[f"baseline_did_save_2000_lines{key}"] = base
    if baseline is not None:
        result["baseline_server"] = str(baseline)
    print(
        f"initialize  kaizen p50 {init['kaizen']['p50']} ms  p95 {init['kaizen']['p95']} ms | "
        f"bare pygls p50 {init['bare_pygls']['p50']} ms  p95 {init['bare_pygls']['p95']} ms | "
        f"ratio {init['ratio_p50']}"
        + (f" (baseline {init['baseline_ratio_p50']})" if baseline is not None else "")
    )
    for prefix in ("", "baseline_") if baseline is not None else ("",):
        for label, key in (("no pre-pass", ""), ("ruff pre-pass", "_with_ruff")):
            data = result[f"{prefix}did_save_2000_lines{key}"]
            print(
                f"{prefix}didSave->publish ({label}): total p50 {data['total_ms']['p50']} p95 "
                f"{data['total_ms']['p95']} ms; overhead p50 {data['overhead_ms']['p50']} p95 "
                f"{data['overhead_ms']['p95']} ms"
            )
    print("saved", save("lsp", result))


if __name__ == "__main__":
    asyncio.run(main())

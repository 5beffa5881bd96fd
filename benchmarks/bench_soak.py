"""Soak: one server, thousands of saves. What happens to memory, latency and the database?

One ``kaizen serve`` process, 20 files in three languages (Python, TypeScript, Go), an
instantly answering model server, and N saves (default 2,000) spread over the files, each
editing one function and waiting for the model's finding on the edited line (the model
flags every marked line; the files start with every function marked, so what a document
shows stays level). Every tenth save dismisses a finding (200 by default). Reported, beside
the issue's targets:

- resident memory (VmRSS) after warm-up and at the end: growth < 15%;
- save latency p95 of the first and the last 200 measured saves: drift < 10%;
- the unit review cache within ``review.cacheMaxUnits`` and the database file's size;
- asyncio tasks, threads and file descriptors after warm-up and at the end (no leak).

    python benchmarks/bench_soak.py [--saves 2000] [--files 20] [--server ../main/server]

``--server`` measures another tree's server (main's, as a baseline in the same session),
``--trace DIR`` has the server trace its allocations and prints what grew most between
warm-up and the end (slow: its timings are no result). ``kaizen.getStatus`` returns the
counts (lsp/process.py): threads by name, fds by file, the C heap, live objects by type.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import client_capabilities, make_test_lsp_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_lsp import env
from benchmarks.common import percentile, save
from tests.fixtures.editing import edit_and_save
from tests.fixtures.scripted_model import ScriptedModel

CACHE_MAX_UNITS = 2_000
TRACE_ENV = "KAIZEN_TRACEMALLOC"  # lsp/process.py: the server traces its allocations
TRACE_FRAMES = 12
FUNCTIONS = 30
FIRST_MARK = 100_000  # the marks the files start with (saves mark ``edit <save number>``)
MARK = re.compile(r"(?:#|//) edit (\d+)")

TEMPLATES = {
    "python": (
        ".py",
        "def handler_{n}(request, retries=3):\n"
        "    total = 0  # v0\n"
        "    for item in request.items:\n"
        "        total += item.price * item.quantity\n"
        "    return total / max(len(request.items), 1)\n\n",
    ),
    "typescript": (
        ".ts",
        "export function handler{n}(items: Item[], retries = 3): number {{\n"
        "  let total = 0; // v0\n"
        "  for (const item of items) {{\n"
        "    total += item.price * item.quantity;\n"
        "  }}\n"
        "  return total / Math.max(items.length, 1);\n"
        "}}\n\n",
    ),
    "go": (
        ".go",
        "func Handler{n}(items []Item, retries int) float64 {{\n"
        "\ttotal := 0.0 // v0\n"
        "\tfor _, item := range items {{\n"
        "\t\ttotal += item.Price * item.Quantity\n"
        "\t}}\n"
        "\treturn total / float64(max(len(items), 1))\n"
        "}}\n\n",
    ),
}


def source(language: str) -> str:
    """A file of ``FUNCTIONS`` functions, each already marked as edited (``edit 10000n``):
    the first review flags every one, so a document shows about as many findings at the
    first measured save as at the last. (Starting unmarked, the findings shown grew from
    one to thirty a file over the first 600 saves: the last saves published three times
    the diagnostics of the first, a drift of the workload, not of the server.)"""
    head = "package shop\n\n" if language == "go" else ""
    functions = (TEMPLATES[language][1].format(n=n) for n in range(FUNCTIONS))
    return head + "".join(
        f.replace(" v0\n", f" edit {FIRST_MARK + n}\n", 1) for n, f in enumerate(functions)
    )


def flag_the_edit(body: dict) -> dict:
    """The model flags every line marked ``edit N`` in its prompt (the edited lines)."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    issues = []
    for line in prompt.splitlines():
        head, _, code = line.partition(" | ")
        if (mark := MARK.search(code)) and head.strip().isdigit():
            issues.append(
                {
                    "line": int(head),
                    "severity": "warning",
                    "category": "bug",
                    "message": f"edit {mark.group(1)}: total may overflow",
                    "snippet": code.strip(),
                }
            )
    return {"issues": issues}


def proc(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))  # the server's own count may be absent
    return {"rss_kb": rss, "fds": fds, "rss_kb_by_mapping": mappings(pid)}


def mappings(pid: int) -> dict[str, int]:
    """Resident kB by kind of mapping: the C heap (``[heap]``, the main malloc arena),
    anonymous memory (thread arenas, Python's object arenas, numpy), each file mapped."""
    out: dict[str, int] = {}
    kind = "anon"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and len(head) >= 5:  # a mapping's header line
            kind = Path(head[5]).name if len(head) > 5 else "anon"
        elif head[0] == "Rss:":
            out[kind] = out.get(kind, 0) + int(head[1])
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:12])


async def counters(client: Any, pid: int, trace: str | None = None) -> dict[str, Any]:
    """RSS, tasks, threads and fds of the server, live objects by type; with ``trace``, a
    tracemalloc snapshot written to that path."""
    args = {"objects": True, "traceSnapshot": trace}
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kaizen.getStatus", arguments=[args])
    )
    return {**proc(pid), **status["process"]}


async def soak(
    saves: int, files: int, home: str, trace: Path | None = None, server: Path | None = None
) -> dict:
    with ScriptedModel() as scripted, tempfile.TemporaryDirectory() as tmp:
        scripted.set_default("issue_detector", flag_the_edit)
        scripted.set_default("fix_generator", {"fixes": []})
        root = Path(tmp)
        languages = list(TEMPLATES)
        docs: list[dict[str, Any]] = []
        for i in range(files):
            language = languages[i % len(languages)]
            path = root / f"module_{i}{TEMPLATES[language][0]}"
            text = source(language)
            path.write_text(text)
            docs.append({"uri": path.as_uri(), "text": text, "version": 1, "lang": language})
        options = {
            "autofix": {
                "provider": "openai",
                "model": "soak",
                "apiBase": scripted.url,
                "apiKey": "sk-soak",
            },
            "trigger": {"onOpen": False},
            # a dismissal hides its own finding only: every save's finding must be shown
            "review": {
                "minConfidence": 0,
                "cacheMaxUnits": CACHE_MAX_UNITS,
                "dismissScope": "finding",
            },
            "localModel": False,
        }
        client = make_test_lsp_client()
        server_env = env(home)
        if server is not None:  # another tree's server (main's, for a baseline)
            server_env["PYTHONPATH"] = str(server)
        if trace is not None:
            server_env[TRACE_ENV] = str(TRACE_FRAMES)
        await client.start_io(sys.executable, "-m", "kaizen", "serve", env=server_env)
        pid = client._server.pid
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("neovim"),
                root_uri=root.as_uri(),
                initialization_options=options,
            )
        )
        for d in docs:
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=d["uri"], language_id=d["lang"], version=1, text=d["text"]
                    )
                )
            )
        latencies: list[float] = []
        rss_curve: list[int] = []  # every 200 saves after warm-up
        counts_curve: list[dict[str, int]] = []
        dismissed = 0
        warm = files * 2  # every file reviewed whole once, then a save each
        before: dict[str, int] = {}
        for i in range(saves + warm):
            if i == warm:
                before = await counters(client, pid, trace and str(trace / "warm.trace"))
            d = docs[i % files]
            n = (i // files) % FUNCTIONS
            comment = "//" if d["lang"] != "python" else "#"
            d["text"] = re.sub(
                rf"(handler_?{n}\b[^\n]*\n[^\n]*?) (?:#|//) (?:v0|edit \d+)",
                rf"\1 {comment} edit {i}",
                d["text"],
                count=1,
                flags=re.IGNORECASE,
            )
            d["version"] += 1
            started = time.perf_counter()
            edit_and_save(client, d["uri"], d["version"], d["text"])
            marker = f"edit {i}:"
            while not any(
                x.message.startswith(marker) for x in client.diagnostics.get(d["uri"], [])
            ):
                try:
                    await asyncio.wait_for(
                        client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS),
                        15 if trace is None else 180,  # tracing slows start-up a lot
                    )
                except TimeoutError:
                    shown = [x.message for x in client.diagnostics.get(d["uri"], [])]
                    raise SystemExit(f"save {i} of {d['uri']}: no '{marker}' in {shown}") from None
            if i >= warm:
                latencies.append((time.perf_counter() - started) * 1000)
                if (i - warm) % 200 == 0:  # the curve: caches filling to their bounds level off
                    rss_curve.append(proc(pid)["rss_kb"])
                    now = await client.workspace_execute_command_async(
                        types.ExecuteCommandParams(command="kaizen.getStatus", arguments=[{}])
                    )
                    process = {"fds": proc(pid)["fds"], **now["process"]}
                    counts_curve.append({k: process.get(k) for k in ("tasks", "threads", "fds")})
            if i >= warm and i % 10 == 0:  # dismiss a finding (not the one just shown)
                old = [x for x in client.diagnostics.get(d["uri"], []) if marker not in x.message]
                target = next((x for x in old if isinstance(x.data, dict)), None)
                if target is not None:
                    await client.workspace_execute_command_async(
                        types.ExecuteCommandParams(
                            command="kaizen.dismiss",
                            arguments=[
                                {
                                    "uri": d["uri"],
                                    "fingerprint": target.data["fingerprint"],
                                    "reason": "soak",
                                }
                            ],
                        )
                    )
                    dismissed += 1
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="kaizen.getStatus", arguments=[{"waitForLearning": True}]
            )
        )
        after = await counters(client, pid, trace and str(trace / "end.trace"))
        await client.shutdown_session()
        await client.stop()
    db_path = Path(home) / "kaizen.db"
    db = sqlite3.connect(db_path)
    cached_units = db.execute("select count(*) from unit_reviews").fetchone()[0]
    db.close()
    window = min(200, len(latencies) // 2)
    first, last = latencies[:window], latencies[-window:]
    p95_first, p95_last = percentile(first, 95), percentile(last, 95)
    return {
        "saves": len(latencies),
        "files": files,
        "languages": languages,
        "dismissals": dismissed,
        "rss_kb": {"after_warmup": before["rss_kb"], "end": after["rss_kb"]},
        "rss_growth": round(after["rss_kb"] / before["rss_kb"] - 1, 3),
        "rss_kb_every_200_saves": rss_curve,
        "rss_growth_second_half": round(after["rss_kb"] / rss_curve[len(rss_curve) // 2] - 1, 3)
        if rss_curve
        else None,
        "counts_every_200_saves": counts_curve,
        "save_ms_p95": {"first": round(p95_first, 1), "last": round(p95_last, 1)},
        "save_ms_p50": round(percentile(latencies, 50), 1),
        "save_ms_p50_first_last": [round(percentile(first, 50), 1), round(percentile(last, 50), 1)],
        "save_ms_p95_every_200_saves": [
            round(percentile(latencies[k : k + 200], 95), 1) for k in range(0, len(latencies), 200)
        ],
        "p95_drift": round(p95_last / p95_first - 1, 3),
        "unit_cache_rows": cached_units,
        "unit_cache_max": CACHE_MAX_UNITS,
        "database_bytes": db_path.stat().st_size,
        "counts_after_warmup": before,
        "counts_end": after,
    }


def growth(trace: Path, top: int = 25) -> list[str]:
    """The allocations that grew most between warm-up and the end, by their traceback."""
    warm = tracemalloc.Snapshot.load(str(trace / "warm.trace"))
    end = tracemalloc.Snapshot.load(str(trace / "end.trace"))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = end.filter_traces(ignore).compare_to(warm.filter_traces(ignore), "traceback")
    lines = []
    for stat in stats[:top]:
        lines.append(f"{stat.size_diff / 1024:+.0f} kB ({stat.count_diff:+d} blocks)")
        lines.extend(f"    {frame}" for frame in reversed(stat.traceback.format()[-2 * 6 :]))
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument(
        "--trace",
        type=Path,
        help="a folder: the server traces its allocations (slower), the growth is printed",
    )
    parser.add_argument(
        "--server",
        type=Path,
        help="the server/ folder of another tree (main's), measured instead of this one's",
    )
    parser.add_argument("--out", default="soak", help="the result's name in benchmarks/results")
    args = parser.parse_args()
    if args.trace is not None:
        args.trace.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        result = await soak(args.saves, args.files, home, args.trace, args.server)
    print(
        f"{result['saves']} saves over {result['files']} files ({', '.join(result['languages'])}),"
        f" {result['dismissals']} dismissals"
    )
    print(
        f"RSS {result['rss_kb']['after_warmup']} -> {result['rss_kb']['end']} kB "
        f"(growth {result['rss_growth']:.1%}, target < 15%)"
    )
    print(
        f"RSS every 200 saves (kB): {result['rss_kb_every_200_saves']}; growth over the second "
        f"half {result['rss_growth_second_half']:.1%}"
    )
    print(
        f"save p95 first {result['save_ms_p95']['first']} ms, last {result['save_ms_p95']['last']}"
        f" ms (drift {result['p95_drift']:.1%}, target < 10%); p50 {result['save_ms_p50']} ms"
    )
    print(
        f"unit cache {result['unit_cache_rows']} rows (max {result['unit_cache_max']}), "
        f"database {result['database_bytes'] // 1024} kB"
    )
    print(f"tasks/threads/fds: {result['counts_after_warmup']} -> {result['counts_end']}")
    if args.trace is not None:
        print("\n".join(growth(args.trace)))
        return  # a traced run is slower: its timings are no result
    print("saved", save(args.out, result))


if __name__ == "__main__":
    asyncio.run(main())

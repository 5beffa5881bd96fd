"""The workspace symbol index on a real TypeScript repository (issue 25).

- Cold build: every supported file listed, read, hashed, outlined and written to a fresh
  SQLite database: files/s and the build's peak RSS (measured in a child process, beside the
  same child's RSS before the build: the baseline is Kaizen imported with the grammar
  loaded).
- Restart: a new process with the same database: the persisted rows are loaded and only
  stamps are compared (files/s, files re-read: target 0).
- Publish latency while the index builds: a fresh server (empty database) with the
  repository as its root; after the first publish starts the build, Python files with a ruff
  finding are opened one after another and timed from didOpen to their publish, while the
  build runs and, as the baseline of the same run, after it finished.
- Update after one file's edit (the editor's buffer changed: hash, outline, index; a
  buffer is not written to the database): p50/p95 over ``--edits`` edits of different
  files (target p95 < 20 ms), wall and CPU time, beside the floor measured in the same run:
  the outline of the same text alone. Also the same edit saved to disk and reported by
  didChangeWatchedFiles (read, hash, outline, index, its row written).

The repository is not downloaded here: pass its path (``--repo`` or ``KAIZEN_BENCH_TS_REPO``);
without it the benchmark says so and exits 0. Measured on date-fns/date-fns at
dd66398305c2b015fba3c1b3d31ccff42ee8d4cf (1,536 .ts files): see benchmarks/README.md.

    python benchmarks/bench_symbols.py --repo /path/to/date-fns [--edits 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from benchmarks.common import save, summary

ENV_REPO = "KAIZEN_BENCH_TS_REPO"


def rss_mb() -> float:
    """Peak resident set of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss_mb()


def child_build(repo: str, db: str) -> dict[str, Any]:
    """One build in this (fresh) process: what the parent reports."""
    from kaizen.app.symbols import WorkspaceSymbols
    from kaizen.languages import outline
    from kaizen.memory.store import Store

    outline("typescript", "export function warm(): void {}\n")  # grammar loaded: baseline
    store = Store.open(db)
    before = current_rss_mb()
    started = time.perf_counter()
    ws = WorkspaceSymbols(Path(repo), store)
    ws.build_now()
    seconds = time.perf_counter() - started
    out = {
        **ws.last_build,
        "seconds": seconds,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "definitions": sum(len(f.symbols) for f in ws.index.files()),
    }
    store.close()
    return out


def run_child(repo: str, db: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", repo, "--db", db],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "server")},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


async def bench_publish_during_build(repo: Path, probes_after: int = 20) -> dict[str, Any]:
    from lsprotocol import types
    from pytest_lsp import client_capabilities, make_test_lsp_client

    during: list[float] = []
    after: list[float] = []
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.update(
            KAIZEN_HOME=home, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "server")
        )
        client = make_test_lsp_client()
        await client.start_io(sys.executable, "-m", "kaizen", "serve", env=env)
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("neovim"),
                root_uri=repo.as_uri(),
                initialization_options={"localModel": False},
            )
        )

        def built() -> bool:
            return any(m.message.startswith("Kaizen indexed") for m in client.log_messages)

        async def probe(n: int) -> float:
            path = Path(scratch) / f"probe_{n}.py"
            text = f"import os\n\nVALUE_{n} = 1\n"  # F401: a static finding to publish
            path.write_text(text)
            uri = path.as_uri()
            started = time.perf_counter()
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=text
                    )
                )
            )
            while not client.diagnostics.get(uri):
                waiter = client.protocol.wait_for_notification(
                    types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
                )
                await asyncio.wait([asyncio.wrap_future(waiter)], timeout=0.5)
            return (time.perf_counter() - started) * 1000

        await probe(0)  # the first publish: the build may start now
        n = 1
        while not built() and n < 300:
            during.append(await probe(n))
            n += 1
        for _ in range(probes_after):
            after.append(await probe(n))
            n += 1
        await client.shutdown_session()
        await client.stop()
    return {
        "publish_during_build_ms": summary(during) if during else {},
        "publish_after_build_ms": summary(after),
    }


def bench_updates(repo: Path, db: str, edits: int) -> dict[str, Any]:
    from kaizen.app.symbols import WorkspaceSymbols
    from kaizen.languages import outline
    from kaizen.memory.store import Store

    store = Store.open(db)
    ws = WorkspaceSymbols(repo, store)
    ws.build_now()  # loads from the database: nothing re-read
    files = sorted(f.path for f in ws.index.files() if f.symbols and f.language == "typescript")
    random.Random(25).shuffle(files)
    update_ms: list[float] = []
    update_cpu_ms: list[float] = []  # CPU time: what the machine's load does not inflate
    disk_ms: list[float] = []  # the file saved: read, hash, outline, index and its row written
    outline_ms: list[float] = []
    for i, rel in enumerate(files[:edits]):
        text = (repo / rel).read_text(encoding="utf-8")
        edited = (
            text
            + f"\nexport function benchEdit{i}(value: number): number {{\n  return value;\n}}\n"
        )
        t0 = time.perf_counter()
        outline("typescript", edited)
        outline_ms.append((time.perf_counter() - t0) * 1000)
        t0, c0 = time.perf_counter(), time.thread_time()
        delta = ws.update_now(repo / rel, edited)
        update_ms.append((time.perf_counter() - t0) * 1000)
        update_cpu_ms.append((time.thread_time() - c0) * 1000)
        assert [f.path for f in delta.changed] == [rel], rel
        assert ws.index.lookup(f"benchEdit{i}"), rel
        saved = edited + f"\nexport const benchSaved{i} = {i};\n"  # a new hash: re-outlined
        (repo / rel).write_text(saved, encoding="utf-8")  # saved: the watched-file path
        try:
            t0 = time.perf_counter()
            ws.update_now(repo / rel)
            disk_ms.append((time.perf_counter() - t0) * 1000)
        finally:
            (repo / rel).write_text(text, encoding="utf-8")
            ws.update_now(repo / rel)
    store.close()
    return {
        "update_ms": summary(update_ms),
        "update_cpu_ms": summary(update_cpu_ms),
        "outline_only_ms": summary(outline_ms),
        "file_changed_on_disk_ms": summary(disk_ms),
        "load_average": os.getloadavg()[0],
    }


def _p(stats: dict[str, Any]) -> str:
    if not stats:
        return "no probe (the build finished first)"
    return f"p50 {stats['p50']} ms, p95 {stats['p95']} ms (n={stats['n']})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", default=os.environ.get(ENV_REPO, ""))
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--child", default="")
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_build(args.child, args.db)))
        return 0
    repo = Path(args.repo) if args.repo else None
    if repo is None or not repo.is_dir():
        print(
            f"bench_symbols: skipped, no TypeScript repository given (--repo or {ENV_REPO}; "
            "e.g. a checkout of date-fns/date-fns)"
        )
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'kaizen.db'}"
        cold = run_child(str(repo), db)
        warm = run_child(str(repo), db)  # a restart: the same database
        updates = bench_updates(repo, db, args.edits)
    publish = asyncio.run(bench_publish_during_build(repo))
    files = cold["files"]
    results = {
        "repository": str(repo),
        "cold": {
            **cold,
            "files_per_s": round(files / cold["seconds"], 1),
            "build_rss_mb": round(cold["peak_rss_mb"] - cold["rss_before_mb"], 1),
        },
        "restart": {**warm, "files_per_s": round(files / warm["seconds"], 1)},
        **updates,
        **publish,
        "targets": {"update_p95_ms": 20, "restart_files_read": 0},
    }
    save("bench_symbols", results)
    print(
        f"symbol index of {repo.name}: {files} files, {cold['definitions']} definitions\n"
        f"  cold build: {results['cold']['files_per_s']} files/s ({cold['seconds']:.1f} s), "
        f"peak RSS {cold['peak_rss_mb']} MB ({results['cold']['build_rss_mb']} MB over the "
        f"{cold['rss_before_mb']} MB before the build)\n"
        f"  restart: {warm['read']} files re-read, {results['restart']['files_per_s']} files/s "
        f"({warm['seconds']:.2f} s)\n"
        f"  update after one file's edit: p50 {updates['update_ms']['p50']} ms, "
        f"p95 {updates['update_ms']['p95']} ms (target < 20), CPU p95 "
        f"{updates['update_cpu_ms']['p95']} ms; the outline alone: "
        f"p95 {updates['outline_only_ms']['p95']} ms; load average {updates['load_average']:.1f}\n"
        f"  a file changed on disk (didChangeWatchedFiles, its row written): "
        f"p50 {updates['file_changed_on_disk_ms']['p50']} ms, "
        f"p95 {updates['file_changed_on_disk_ms']['p95']} ms"
        f"\n  publish after didOpen while the index builds: "
        f"{_p(publish['publish_during_build_ms'])}; after the build: "
        f"{_p(publish['publish_after_build_ms'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

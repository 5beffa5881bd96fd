"""The team backend: hybrid search on PostgreSQL + pgvector beside SQLite, and concurrent
writers on both.

Usage: python benchmarks/bench_postgres.py [--sizes 10000] [--datasets text,gauss] [--queries 100]
       [--writers 4] [--per-writer 200] [--no-sqlite] [--out FILE]

The default run is small (10k insights, a few minutes with the SQLite side); the issue's
numbers come from ``--sizes 100000`` (and ``--sizes 1000000`` if you have the time: the
HNSW build alone takes tens of minutes on two cores).

Data: ``bench_search``'s synthetic insights and vectors (same generator, seed and queries),
one repository and one language. PostgreSQL is a throw-away ``pgserver`` instance (the PyPI
wheel with PostgreSQL 16 + pgvector), on its default settings except a larger
``maintenance_work_mem`` for the index builds. Per query, as in bench_search: each query
keeps its fastest of ``--repeat`` passes; percentiles are over queries; recall@10 is
``vector_search`` (HNSW, ``hnsw.ef_search`` as the search code sets it) against the exact
scan. Writers: ``--writers`` processes record ``--per-writer`` new insights each through
``insights.record`` (embed, upsert, index: the server's path), four per transaction like a
run, into the database just measured, all released at once; the same with one writer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from benchmarks import bench_search
from benchmarks.bench_search import DIM, LANGUAGE, REPO, Dataset, recall_at_10
from benchmarks.common import RESULTS, percentile
from sqlalchemy.engine import make_url
from tests.pg_fixtures import start_pg_server

from kaizen.core.embed import HashingEmbedder
from kaizen.memory.db import create_db_engine, writer
from kaizen.memory.migrate import migrate
from kaizen.memory.search import ensure_index
from kaizen.memory.search import postgres as pg

ROOT = Path(__file__).resolve().parent.parent
INSIGHT_COLUMNS = (
    "id, repository, language, kind, category, summary, detail, content_hash, occurrences, "
    "recorded_by, embedder, created_at, updated_at"
)


def _vector_text(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def bulk_load(url: str, data: Dataset) -> tuple[Any, dict[str, float]]:
    """Schema and index through Kaizen's own code, rows by COPY, then the indexes."""
    times: dict[str, float] = {}
    engine = create_db_engine(url)
    migrate(engine)
    embedder = HashingEmbedder(DIM)
    with writer(engine).begin() as conn:
        ensure_index(conn, embedder)
        # Indexes are built once after the load: much faster than row by row.
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {pg.VEC_TABLE}_hnsw")
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_insights_search_tsv")
    started = time.perf_counter()
    generating = 0.0
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        batches = data.batches()
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            generating += time.perf_counter() - t0
            if batch is None:
                break
            with driver.cursor() as cur:
                with cur.copy(f"COPY workflow_insights ({INSIGHT_COLUMNS}) FROM STDIN") as copy:
                    for i, (summary, detail, category), _ in batch:
                        copy.write_row((i, REPO, LANGUAGE, "lesson", category, summary, detail,
                                        f"h{i}", 1, "bench", embedder.name,
                                        "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"))
                with cur.copy(
                    f"COPY {pg.VEC_TABLE} (insight_id, repository, language, embedding) "
                    "FROM STDIN"
                ) as copy:
                    for i, _, vector in batch:
                        copy.write_row((i, REPO, LANGUAGE, _vector_text(vector)))
            driver.commit()
        with driver.cursor() as cur:
            cur.execute("SELECT setval(pg_get_serial_sequence('workflow_insights', 'id'), "
                        "(SELECT max(id) FROM workflow_insights))")
        driver.commit()
    finally:
        raw.close()
    times["generate_embed_s"] = generating
    times["copy_s"] = time.perf_counter() - started - generating
    with engine.begin() as conn:
        # the HNSW graph must fit in maintenance_work_mem or the build crawls
        conn.exec_driver_sql(f"SET maintenance_work_mem = '{max(1024, data.size // 300)}MB'")
        conn.exec_driver_sql("SET max_parallel_maintenance_workers = 1")
        t0 = time.perf_counter()
        pg.create_hnsw(conn)
        times["hnsw_build_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.exec_driver_sql(
            f"CREATE INDEX ix_insights_search_tsv ON workflow_insights USING gin "
            f"({pg.TSV_COLUMN})"
        )
        times["gin_build_s"] = time.perf_counter() - t0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE workflow_insights")
        conn.exec_driver_sql(f"VACUUM ANALYZE {pg.VEC_TABLE}")
    return engine, {k: round(v, 1) for k, v in times.items()}


def _percentiles(samples: list[float]) -> dict[str, float]:
    millis = [s * 1000 for s in samples]
    return {"p50_ms": round(statistics.median(millis), 2),
            "p95_ms": round(percentile(millis, 95), 2)}


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def search_postgres(engine: Any, data: Dataset, queries: int, repeat: int) -> dict[str, Any]:
    texts, vectors = data.queries(queries)
    keys = ("hybrid", "vector", "exact")
    best = {key: [float("inf")] * len(texts) for key in keys}
    recalls: list[float] = []
    with engine.connect() as conn:
        for text_, vector in zip(texts[:5], vectors[:5], strict=True):  # warm the cache
            pg.hybrid_search(conn, query=text_, vector=vector, repository=REPO,
                             language=LANGUAGE)
            pg.exact_knn(conn, vector, REPO, 10)
        for run in range(repeat):
            for q, (text_, vector) in enumerate(zip(texts, vectors, strict=True)):
                runs = {
                    "hybrid": partial(pg.hybrid_search, conn, query=text_, vector=vector,
                                      repository=REPO, language=LANGUAGE),
                    "vector": partial(pg.vector_search, conn, vector, REPO, LANGUAGE, 10),
                    "exact": partial(pg.exact_knn, conn, vector, REPO, 10),
                }
                answers = {}
                for key in keys:
                    elapsed, answers[key] = _timed(runs[key])
                    best[key][q] = min(best[key][q], elapsed)
                if run == 0:
                    recalls.append(recall_at_10(answers["vector"], answers["exact"]))
        conn.rollback()
    out: dict[str, Any] = {
        "recall_at_10": round(statistics.fmean(recalls), 4),
        "recall_at_10_min": round(min(recalls), 2),
    }
    for key in keys:
        out[key] = _percentiles(best[key])
    return out


def database_mb(engine: Any) -> float:
    with engine.connect() as conn:
        size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
    return round(float(size or 0) / 2**20, 1)


WRITER = textwrap.dedent("""
    import os, random, sys, time
    sys.path.insert(0, {root!r}); sys.path.insert(0, {server!r})
    from benchmarks.bench_search import synthetic_insight
    from kaizen.config import Settings
    from kaizen.memory import insights
    from kaizen.memory.loop import LearningLoop
    from kaizen.memory.store import Store

    url, who, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = Store.open(url)
    loop = LearningLoop(store, Settings())
    rng = random.Random(who)
    items = []
    for n in range(count):
        summary, detail, category = synthetic_insight(rng)
        items.append(insights.InsightInput(
            kind="issue_found", category=category, summary=f"{{summary}} [{{who}}-{{n}}]",
            detail=detail, repository={repo!r}, language={lang!r}))
    open(go + "." + who, "w").close()
    while not os.path.exists(go):
        time.sleep(0.002)
    latencies = []
    for start in range(0, count, 4):
        t0 = time.perf_counter()
        insights.record(store.engine, loop.embedder, items[start:start + 4], who)
        latencies.append(time.perf_counter() - t0)
    print(" ".join(f"{{x:.6f}}" for x in latencies))
""")


def concurrent_writers(url: str, writers: int, per_writer: int, workdir: Path,
                       tag: str) -> dict[str, Any]:
    script = workdir / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT), server=str(ROOT / "server"),
                                    repo=REPO, lang=LANGUAGE))
    go = workdir / f"go-{tag}-{writers}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server")}
    procs = [
        subprocess.Popen([sys.executable, str(script), url, f"{tag}{writers}w{n}",
                          str(per_writer), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for n in range(writers)
    ]
    while not all(Path(f"{go}.{tag}{writers}w{n}").exists() for n in range(writers)):
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(procs[0].communicate()[1][-2000:])
        time.sleep(0.01)
    started = time.perf_counter()
    go.touch()
    latencies: list[float] = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError(err[-2000:])
        latencies += [float(x) for x in out.split()]
    elapsed = time.perf_counter() - started
    total = writers * per_writer
    return {
        "writers": writers,
        "insights": total,
        "seconds": round(elapsed, 2),
        "insights_per_s": round(total / elapsed, 1),
        "transaction": _percentiles(latencies),
    }


def run_size(server: Any, name: str, size: int, args: argparse.Namespace,
             workdir: Path) -> dict[str, Any]:
    data = Dataset(name, size, args.seed)
    url = server.create_database(prefix=f"bench_{name}_{size}")
    started = time.perf_counter()
    engine, build = bulk_load(url, data)
    result: dict[str, Any] = {"dataset": name, "size": size, "queries": args.queries,
                              "build": build,
                              "build_s": round(time.perf_counter() - started, 1),
                              "db_mb": database_mb(engine)}
    print(f"# postgres {name} {size}: loaded in {result['build_s']} s {build}",
          file=sys.stderr, flush=True)
    result["postgres"] = search_postgres(engine, data, args.queries, args.repeat)
    engine.dispose()
    if args.writers:
        result["postgres_writers"] = [
            concurrent_writers(url, n, args.per_writer, workdir, "pg")
            for n in sorted({1, args.writers})
        ]
    if not args.no_sqlite:
        sqlite = bench_search.run_one(name, size, args.queries, args.seed, workdir, False,
                                      args.repeat)
        result["sqlite"] = {k: sqlite[k] for k in
                            ("recall_at_10", "recall_at_10_min", "hybrid", "vector", "exact",
                             "build_s", "db_mb")}
        if args.writers:
            path = f"sqlite:///{workdir / f'{name}-{size}.db'}"
            result["sqlite_writers"] = [
                concurrent_writers(path, n, args.per_writer, workdir, "sq")
                for n in sorted({1, args.writers})
            ]
    with server.admin() as conn:  # free the disk before the next size
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}"')
    return result


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'backend':8} {'dataset':7} {'size':>8} | {'hybrid p50':>10} {'p95':>7} | "
          f"{'vector p50':>10} {'p95':>7} | {'exact p50':>9} {'p95':>7} | {'recall@10':>9}")
    for r in results:
        for backend in ("postgres", "sqlite"):
            if backend not in r:
                continue
            m = r[backend]
            print(f"{backend:8} {r['dataset']:7} {r['size']:>8} | "
                  f"{m['hybrid']['p50_ms']:>10.2f} {m['hybrid']['p95_ms']:>7.2f} | "
                  f"{m['vector']['p50_ms']:>10.2f} {m['vector']['p95_ms']:>7.2f} | "
                  f"{m['exact']['p50_ms']:>9.2f} {m['exact']['p95_ms']:>7.2f} | "
                  f"{m['recall_at_10']:>9.3f}")
        for backend in ("postgres_writers", "sqlite_writers"):
            for w in r.get(backend, []):
                print(f"{backend:17} {w['writers']} writer(s): {w['insights']} insights in "
                      f"{w['seconds']} s = {w['insights_per_s']}/s, transaction p50 "
                      f"{w['transaction']['p50_ms']} ms p95 {w['transaction']['p95_ms']} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--datasets", default="text,gauss")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--per-writer", type=int, default=200)
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite side")
    parser.add_argument("--out", type=Path, default=RESULTS / "postgres.json")
    args = parser.parse_args(argv)
    server, why = start_pg_server()
    if server is None:
        print(f"skipped: {why}", file=sys.stderr)
        return 0
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="kaizen-bench-pg-") as tmp:
            for size in (int(s) for s in args.sizes.split(",") if s):
                for name in args.datasets.split(","):
                    results.append(run_size(server, name, size, args, Path(tmp)))
    finally:
        server.handle.cleanup()
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"dim": DIM, "cpus": os.cpu_count(), "postgres": "16 (pgserver) + pgvector 0.6",
            "hnsw": {"m": pg.HNSW_M, "ef_construction": pg.HNSW_EF_CONSTRUCTION,
                     "ef_search_min": pg.EF_SEARCH_MIN}, "exact_max": pg.EXACT_MAX}
    args.out.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

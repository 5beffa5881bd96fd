"""Team scale: the shared PostgreSQL + pgvector memory, several servers writing at once,
moving learnings between databases, and the shared model gateway.

PostgreSQL comes from ``pgserver`` (see tests/pg_fixtures.py); each test gets a fresh
database. The learning-loop tests run on this backend too (tests/test_learning_loop.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from lsprotocol import types
from sqlalchemy import text

from kaizen.config import Settings
from kaizen.core.embed import HashingEmbedder
from kaizen.memory import insights
from kaizen.memory.db import create_db_engine, database_url, writer
from kaizen.memory.loop import LearningLoop
from kaizen.memory.migrate import SCHEMA_VERSION, migrate
from kaizen.memory.search import ensure_index, hybrid_search
from kaizen.memory.search import postgres as pg
from kaizen.memory.search import sqlite as sqlite_search
from kaizen.memory.store import Store
from tests.conftest import model_options, open_document, server_env, wait_for_diagnostics
from tests.fixtures.scripted_model import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
REPO = "github.com/acme/widgets"

LESSONS = [
    ("bug", "Mutable default argument bucket is shared between calls", "use None"),
    ("bug", "Division by zero when the invoice list is empty", "guard len(items)"),
    ("security", "SQL built by string concatenation allows injection", "bound parameters"),
    ("performance", "Config file is reloaded inside the request loop", "load it once"),
    ("style", "Compare with `is None` instead of == None", ""),
    ("bug", "Socket is never closed in fetch_payload", "wrap it in a with statement"),
    ("security", "API token reaches the log line in authenticate_user", "redact it"),
    ("maintainability", "Validation of the order payload is duplicated", "one helper"),
]


def lesson(summary: str, category: str = "bug", detail: str = "", repository: str = REPO,
           language: str = "python", kind: str = "issue_found") -> insights.InsightInput:
    return insights.InsightInput(kind=kind, category=category, summary=summary, detail=detail,
                                 repository=repository, language=language)


def open_memory(location: str) -> tuple[Store, LearningLoop]:
    store = Store.open(location)
    return store, LearningLoop(store, Settings())


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_database_urls_select_the_psycopg_driver(tmp_path: Path):
    assert database_url("postgresql://u:p@db/kaizen") == "postgresql+psycopg://u:p@db/kaizen"
    assert database_url("postgres://db/kaizen") == "postgresql+psycopg://db/kaizen"
    assert database_url("postgresql+psycopg://db/k") == "postgresql+psycopg://db/k"
    assert database_url(tmp_path / "k.db") == f"sqlite:///{tmp_path / 'k.db'}"


def test_search_index_on_postgres(pg_url: str):
    store, loop = open_memory(pg_url)
    try:
        engine = store.engine
        ids = insights.record(
            engine, loop.embedder, [lesson(s, c, d) for c, s, d in LESSONS], "alice"
        )
        other = insights.record(engine, loop.embedder, [
            lesson(LESSONS[0][1], detail=LESSONS[0][2], repository="github.com/acme/other"),
            lesson("Mutable default argument in a TypeScript helper", language="typescript"),
            lesson("the of and to"),  # no features: a zero vector, stored as NULL
        ], "bob")
        # the pgvector column, the HNSW index and the tsvector/GIN index exist
        assert scalar(engine, "SELECT count(*) FROM insights_vec") == len(LESSONS) + 3
        assert scalar(engine, "SELECT count(*) FROM insights_vec WHERE embedding IS NULL") == 1
        indexes = scalar(engine, "SELECT string_agg(indexdef, ' | ') FROM pg_indexes "
                                 "WHERE tablename IN ('insights_vec', 'workflow_insights')")
        assert "USING hnsw (embedding vector_cosine_ops)" in indexes
        assert "USING gin (search_tsv)" in indexes

        [vector] = loop.embedder.embed(["mutable default argument shared between calls"])
        with engine.connect() as conn:
            hits = hybrid_search(conn, query="mutable default argument", vector=vector,
                                 repository=REPO, language="python", limit=5)
            assert hits[0].insight_id == ids[0]
            assert hits[0].keyword_rank == 1 and hits[0].vector_rank == 1
            # repository and language filters: nothing from other or typescript
            assert {h.insight_id for h in hits}.isdisjoint(other[:2])
            assert pg.keyword_search(conn, "injection", REPO, "python", 10) == [ids[2]]
            assert pg.keyword_search(conn, "injection", "github.com/acme/other", None, 10) == []
            assert pg.keyword_search(conn, "the of", REPO, None, 10) == []  # stopwords only
            everywhere = hybrid_search(conn, query="mutable default", vector=vector,
                                       repository=None, language=None, limit=20)
            found = {h.insight_id for h in everywhere}
            assert {ids[0], other[1]} <= found  # other repositories and languages too
            # the zero vector is never near anything
            assert other[2] not in [i for i, _ in pg.vector_search(conn, vector, None, None, 50)]
            # the same lesson in another repository is a near-duplicate: collapsed
            assert other[0] not in found

        # merged, not duplicated; the vector is not rewritten
        again = insights.record(engine, loop.embedder, [lesson(LESSONS[0][1], "bug", "use None")])
        assert again == [ids[0]]
        assert scalar(engine, "SELECT occurrences FROM workflow_insights WHERE id = :i",
                      i=ids[0]) == 2
        # forgetting an insight removes its vector (and its keywords with the row)
        assert insights.delete(engine, ids[2])
        assert scalar(engine, "SELECT count(*) FROM insights_vec WHERE insight_id = :i",
                      i=ids[2]) == 0
        with engine.connect() as conn:
            assert pg.keyword_search(conn, "injection", REPO, "python", 10) == []
    finally:
        store.close()


def test_upsert_tells_inserted_from_merged(pg_url: str):
    store = Store.open(pg_url)
    try:
        item = lesson("Race: check then create without a lock")
        with writer(store.engine).begin() as conn:
            first = insights._upsert(conn, item, "e", "alice")
            second = insights._upsert(conn, item, "e", "bob")
        assert first[1] is True and second == (first[0], False)
        assert scalar(store.engine, "SELECT occurrences || ' ' || recorded_by "
                                    "FROM workflow_insights") == "2 alice"
    finally:
        store.close()


def test_unit_review_cache_on_postgres(pg_url: str):
    from tests.test_storage import check_unit_review_cache

    check_unit_review_cache(Store.open(pg_url))


def test_a_schema_per_team_keeps_teams_apart(pg_server, pg_url: str):
    """Several teams on one database: each URL names its schema (search_path)."""
    import psycopg
    from sqlalchemy.engine import make_url

    dbname = make_url(pg_url).database

    with psycopg.connect(host=pg_server.host, user="postgres", dbname=dbname,
                         autocommit=True) as conn:
        conn.execute("CREATE SCHEMA team_a")
        conn.execute("CREATE SCHEMA team_b")
    seen = {}
    for team in ("team_a", "team_b"):
        store, loop = open_memory(f"{pg_url}&options=-csearch_path%3D{team},public")
        try:
            insights.record(store.engine, loop.embedder, [lesson(f"Lesson of {team}")])
            [v] = loop.embedder.embed(["lesson"])
            with store.engine.connect() as conn:
                hits = hybrid_search(conn, query="lesson", vector=v, repository=REPO,
                                     language="python")
            seen[team] = [scalar(store.engine, "SELECT summary FROM workflow_insights "
                                               "WHERE id = :i", i=h.insight_id) for h in hits]
        finally:
            store.close()
    assert seen == {"team_a": ["Lesson of team_a"], "team_b": ["Lesson of team_b"]}


def test_same_answers_as_sqlite(tmp_path: Path, pg_url: str):
    """Both backends rank the same small memory the same way (exact scans on both)."""
    results = []
    for location, side in ((str(tmp_path / "k.db"), sqlite_search), (pg_url, pg)):
        store, loop = open_memory(location)
        try:
            insights.record(store.engine, loop.embedder,
                            [lesson(s, c, d) for c, s, d in LESSONS * 1], "alice")
            queries = ["socket never closed", "token in the log", "reloaded config loop"]
            with store.engine.connect() as conn:
                answer = []
                for q in queries:
                    [v] = loop.embedder.embed([q])
                    answer.append((
                        side.keyword_search(conn, q, REPO, "python", 3)[:1],
                        [i for i, _ in side.vector_search(conn, v, REPO, "python", 5)],
                        [h.insight_id for h in hybrid_search(
                            conn, query=q, vector=v, repository=REPO, language="python",
                            limit=3)][:1],
                    ))
            results.append(answer)
        finally:
            store.close()
    assert results[0] == results[1]


def test_hnsw_and_selective_filters(pg_url: str, monkeypatch: pytest.MonkeyPatch):
    """Through the HNSW index (forced here), a filter that keeps few rows still answers
    in full: the short answer falls back to an exact scan of that subset."""
    store, loop = open_memory(pg_url)
    try:
        engine = store.engine
        big = [lesson(f"Handler number {i} swallows {w} errors", repository="big")
               for i in range(400) for w in ("timeout",)]
        small = [lesson(f"Small repository lesson {i} about timeout errors", repository="small")
                 for i in range(4)]
        insights.record(engine, loop.embedder, big + small)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE insights_vec")
        monkeypatch.setattr(pg, "EXACT_MAX", 0)
        [v] = loop.embedder.embed(["timeout errors"])
        with engine.connect() as conn:
            got = pg.vector_search(conn, v, "small", None, 10)
            assert len(got) == 4
            approx = [i for i, _ in pg.vector_search(conn, v, "big", "python", 10)]
            exact = [i for i, _ in pg.exact_knn(conn, v, "big", 10, language="python")]
            assert len(set(approx) & set(exact)) >= 8
            plan = "\n".join(r[0] for r in conn.execute(text(
                "EXPLAIN SELECT insight_id FROM insights_vec ORDER BY embedding <=> "
                "(SELECT embedding FROM insights_vec LIMIT 1) LIMIT 10")))
            assert "insights_vec_hnsw" in plan
    finally:
        store.close()


def test_switching_embedder_reembeds_on_postgres(pg_url: str):
    store, loop = open_memory(pg_url)
    try:
        insights.record(store.engine, loop.embedder, [lesson(s, c, d) for c, s, d in LESSONS])
        with writer(store.engine).begin() as conn:
            ensure_index(conn, HashingEmbedder(64))
        engine = store.engine
        assert scalar(engine, "SELECT value FROM meta WHERE key = 'embedding_dim'") == "64"
        assert scalar(engine, "SELECT count(*) FROM insights_vec") == len(LESSONS)
        assert scalar(engine, "SELECT count(DISTINCT embedder) FROM workflow_insights") == 1
        with engine.connect() as conn:
            [v] = HashingEmbedder(64).embed(["socket never closed"])
            assert pg.vector_search(conn, v, REPO, "python", 3)
    finally:
        store.close()


# several servers at once -------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {server!r})
    from kaizen.config import Settings
    from kaizen.improvement import bugs, performance
    from kaizen.memory import insights
    from kaizen.memory.loop import LearningLoop
    from kaizen.memory.store import Store
    from kaizen.core.findings import Finding
    from kaizen.core.runs import RunStatus, RunTotals

    url, who, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = Store.open(url)             # every process migrates and indexes at once
    loop = LearningLoop(store, Settings())
    open(go + "." + who, "w").close()  # ready
    while not os.path.exists(go):
        time.sleep(0.005)
    repo = {repo!r}
    for i in range(n):
        run = store.start_run("autofix", f"file:///{{who}}/{{i}}.py", repo, "python", 1)
        shared = [insights.InsightInput(kind="issue_found", category="bug",
                  summary=f"[bug] shared lesson {{k}}", detail="seen by everyone",
                  repository=repo, language="python", run_id=run) for k in range(3)]
        own = insights.InsightInput(kind="issue_found", category="bug",
                  summary=f"[bug] lesson {{i}} of {{who}}", detail="",
                  repository=repo, language="python", run_id=run)
        # alternate the order: the writers must not dead-lock on each other's rows
        items = shared + [own] if i % 2 else [own] + shared[::-1]
        ids = insights.record(store.engine, loop.embedder, items, who)
        performance.add_sample(store, "openai/gpt-4o", "issue_detector",
                               performance.Sample(calls=1, successes=1.0, latency_ms=10.0,
                                                  cost_usd=0.001))
        bugs.record(store, bugs.BugReport(category="invalid_output", pattern="shared pattern",
                                          description="same failure everywhere"))
        finding = Finding(pipeline="autofix", category="bug", severity="warning",
                          start_line=1, end_line=1, message=f"finding {{i}} of {{who}}",
                          fingerprint=f"{{who}}-{{i}}")
        store.save_findings(run, repo, f"file:///{{who}}/{{i}}.py", "python", [finding])
        store.finish_run(run, RunStatus.SUCCEEDED, RunTotals(model="openai/gpt-4o", cost_usd=0.001),
                         findings=1, insight_ids=ids)
    store.close()
    print("done", who)
""")


def test_concurrent_servers_lose_nothing(tmp_path: Path, pg_url: str):
    processes, per_process = 4, 12
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(server=str(ROOT / "server"), repo=REPO))
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, str(script), pg_url, f"w{n}", str(per_process),
                          str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(processes)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"go.w{n}").exists() for n in range(processes)):
        assert all(p.poll() is None for p in procs), "a writer died while starting"
        assert time.monotonic() < deadline, "writers did not start"
        time.sleep(0.02)
    go.touch()  # all at once
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        assert out.startswith("done")

    total = processes * per_process
    engine = create_db_engine(pg_url)
    try:
        q = lambda sql: scalar(engine, sql)  # noqa: E731
        assert q("SELECT count(*) FROM runs WHERE status = 'succeeded'") == total
        assert q("SELECT count(*) FROM runs") == total
        # shared lessons: one row each, every occurrence counted exactly once
        with engine.connect() as conn:
            shared = conn.execute(text(
                "SELECT summary, occurrences FROM workflow_insights "
                "WHERE summary LIKE '[bug] shared lesson %' ORDER BY summary")).all()
        assert [tuple(r) for r in shared] == [
            (f"[bug] shared lesson {k}", total) for k in range(3)]
        assert q("SELECT count(*) FROM workflow_insights "
                 "WHERE summary LIKE '[bug] lesson %'") == total
        assert q("SELECT count(*) FROM workflow_insights") == total + 3
        # every insight has exactly one vector
        assert q("SELECT count(*) FROM insights_vec") == total + 3
        assert q("SELECT count(DISTINCT recorded_by) FROM workflow_insights") == processes
        # counters incremented in SQL: none lost, none doubled
        assert q("SELECT calls FROM model_performance") == total
        assert q("SELECT total_cost_usd FROM model_performance") == pytest.approx(
            total * 0.001)
        assert q("SELECT occurrences FROM bug_patterns") == total
        assert q("SELECT count(*) FROM findings") == total
        assert q("SELECT value FROM meta WHERE key = 'schema_version'") == str(SCHEMA_VERSION)
    finally:
        engine.dispose()


SWEEPER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {server!r})
    from kaizen.improvement import bugs
    from kaizen.memory.store import Store
    from kaizen.core.runs import RunStatus, RunTotals

    url, who, go, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = Store.open(url)
    open(go + "." + who, "w").close()
    while not os.path.exists(go):
        time.sleep(0.002)
    for i in range(n):  # a run fails, then this server sweeps (as after every run)
        run = store.start_run("autofix", f"file:///{{who}}/{{i}}.py", "repo", "python", 1)
        store.finish_run(run, RunStatus.FAILED, RunTotals(),
                         error="ValueError: the scanner broke")
        bugs.sweep_failed_runs(store)
    store.close()
""")


def test_concurrent_sweeps_count_each_failed_run_once(tmp_path: Path, pg_url: str):
    Store.open(pg_url).close()
    per_process = 20
    failed = 4 * per_process
    script = tmp_path / "sweeper.py"
    script.write_text(SWEEPER.format(server=str(ROOT / "server")))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), pg_url, f"s{n}", str(go),
                               str(per_process)], stderr=subprocess.PIPE, text=True)
             for n in range(4)]
    while not all((tmp_path / f"go.s{n}").exists() for n in range(4)):
        assert all(p.poll() is None for p in procs), "a sweeper died while starting"
        time.sleep(0.02)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
    engine = create_db_engine(pg_url)
    try:
        assert scalar(engine, "SELECT sum(occurrences) FROM bug_patterns") == failed
    finally:
        engine.dispose()


def test_concurrent_migrations_and_index_builds(pg_url: str):
    """Servers starting together: the advisory locks make migrate and ensure_index run one
    at a time, and the later ones find the work done."""
    from concurrent.futures import ThreadPoolExecutor

    def start(_: int) -> int:
        engine = create_db_engine(pg_url)
        try:
            migrate(engine)
            with writer(engine).begin() as conn:
                ensure_index(conn, HashingEmbedder())
            return 1
        finally:
            engine.dispose()

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(start, range(4))) == 4


# moving learnings: kaizen db export / import / migrate ---------------------------------------


def db(*argv: str) -> int:
    from kaizen.cli.db import add_db_command

    parser = argparse.ArgumentParser()
    add_db_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_db_migrate_command(pg_url: str, capsys: pytest.CaptureFixture[str]):
    assert db("db", "migrate", "--database", pg_url) == 0
    assert f"schema v0 -> v{SCHEMA_VERSION}" in capsys.readouterr().out
    assert db("db", "migrate", "--database", pg_url) == 0
    out = capsys.readouterr().out
    assert f"schema v{SCHEMA_VERSION};" in out and "0 insights" in out
    assert "postgres@" in out


def test_export_from_sqlite_and_import_into_postgres(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
):
    personal = tmp_path / "personal.db"
    store, loop = open_memory(str(personal))
    try:
        ids = insights.record(store.engine, loop.embedder,
                              [lesson(s, c, d) for c, s, d in LESSONS], "alice")
        insights.record(store.engine, loop.embedder, [lesson(LESSONS[0][1], "bug", "x")])
        insights.record(store.engine, loop.embedder, [
            lesson("Dismissed: the cache is global on purpose", kind="finding_rejected",
                   repository="github.com/acme/other")], "alice")
        from kaizen.core.findings import Finding

        f = Finding(pipeline="autofix", category="bug", severity="warning", start_line=1,
                    end_line=1, message="cache is global", fingerprint="fp-dismissed")
        store.save_findings(None, REPO, "file:///a.py", "python", [f])  # type: ignore[arg-type]
        store.set_outcome(REPO, "fp-dismissed", "rejected", "on purpose")
        open_one = Finding(pipeline="autofix", category="bug", severity="warning",
                           start_line=2, end_line=2, message="still open", fingerprint="fp-open")
        store.save_findings(None, REPO, "file:///a.py", "python", [open_one])  # type: ignore[arg-type]
    finally:
        store.close()

    # the team database already knows one of the lessons, from bob
    team, team_loop = open_memory(pg_url)
    insights.record(team.engine, team_loop.embedder, [lesson(LESSONS[1][1], "bug", "x")], "bob")
    team.close()

    export = tmp_path / "mine.jsonl"
    assert db("db", "export", "--database", str(personal), "-o", str(export)) == 0
    assert "Exported 9 insights and 1 finding outcomes" in capsys.readouterr().err
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert lines[0]["format"] == "kaizen-learnings"
    assert all("embedding" not in line for line in lines)
    assert {line["type"] for line in lines[1:]} == {"insight", "finding"}

    assert db("db", "import", str(export), "--database", pg_url) == 0
    out = capsys.readouterr().out
    assert "8 new insights, 1 merged into existing ones, 1 finding outcomes" in out

    team = Store.open(pg_url)
    try:
        engine = team.engine
        assert scalar(engine, "SELECT count(*) FROM workflow_insights") == 9
        assert scalar(engine, "SELECT count(*) FROM insights_vec") == 9  # re-embedded
        # merged by content hash: bob's row now counts alice's occurrence too
        assert scalar(engine, "SELECT occurrences FROM workflow_insights WHERE summary = :s",
                      s=LESSONS[1][1]) == 2
        assert scalar(engine, "SELECT recorded_by FROM workflow_insights WHERE summary = :s",
                      s=LESSONS[1][1]) == "bob"
        # who recorded what is kept; occurrences travel with the lesson
        assert scalar(engine, "SELECT recorded_by FROM workflow_insights WHERE summary = :s",
                      s=LESSONS[2][1]) == "alice"
        assert scalar(engine, "SELECT occurrences FROM workflow_insights WHERE summary = :s",
                      s=LESSONS[0][1]) == 2
        assert team.rejected_fingerprints(REPO) == {"fp-dismissed"}
        assert scalar(engine, "SELECT count(*) FROM findings") == 1  # open ones stay home
        loop = LearningLoop(team, Settings())
        [v] = loop.embedder.embed(["socket never closed"])
        with engine.connect() as conn:
            hits = hybrid_search(conn, query="socket never closed", vector=v,
                                 repository=REPO, language="python", limit=3)
        top = scalar(engine, "SELECT summary FROM workflow_insights WHERE id = :i",
                     i=hits[0].insight_id)
        assert top == LESSONS[5][1]
    finally:
        team.close()
    assert len(ids) == len(LESSONS)

    # the same file twice would double-count: refused unless --force
    assert db("db", "import", str(export), "--database", pg_url) == 2
    assert "--force" in capsys.readouterr().err
    assert db("db", "import", str(export), "--database", pg_url, "--force") == 0
    assert "0 new insights, 9 merged" in capsys.readouterr().out

    # and back: the team database into a fresh personal file
    back = tmp_path / "team.jsonl"
    assert db("db", "export", "--database", pg_url, "-o", str(back),
              "--repository", REPO) == 0
    assert "Exported 8 insights and 1 finding outcomes" in capsys.readouterr().err
    assert db("db", "import", str(back), "--database", str(tmp_path / "copy.db")) == 0
    assert "8 new insights, 0 merged" in capsys.readouterr().out
    copy = Store.open(tmp_path / "copy.db")
    try:
        assert copy.rejected_fingerprints(REPO) == {"fp-dismissed"}
        assert scalar(copy.engine, "SELECT occurrences FROM workflow_insights WHERE summary = :s",
                      s=LESSONS[1][1]) == 3  # bob's 1 + alice's 1, imported twice
    finally:
        copy.close()


def test_import_rejects_bad_records(tmp_path: Path, pg_url: str,
                                    capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([
        json.dumps({"type": "header", "format": "kaizen-learnings", "version": 1}),
        json.dumps({"type": "insight", "kind": "issue_found", "summary": "Token sk-"
                    "abcdefghijklmnopqrstuvwxyz123456 leaked", "repository": REPO}),
        json.dumps({"type": "insight", "kind": "x" * 100, "summary": "too long a kind"}),
        json.dumps({"type": "insight", "kind": "issue_found", "summary": 5}),
        "not json",
        json.dumps({"type": "finding", "status": "open", "fingerprint": "f"}),
    ]) + "\n")
    assert db("db", "import", str(bad), "--database", pg_url) == 0
    out = capsys.readouterr().out
    assert "1 new insights" in out and "skipped 4 invalid lines" in out
    engine = create_db_engine(pg_url)
    try:
        summary = scalar(engine, "SELECT summary FROM workflow_insights")
        assert "sk-abcdefghijkl" not in summary and "REDACTED" in summary
    finally:
        engine.dispose()
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({"type": "header", "format": "kaizen-learnings",
                                 "version": 99}) + "\n")
    assert db("db", "import", str(newer), "--database", pg_url) == 2
    assert "newer than this Kaizen reads" in capsys.readouterr().err


# the shared model gateway --------------------------------------------------------------------


class RecordingProxy(ScriptedModel):
    """The scripted model server standing in for a LiteLLM proxy; it also keeps the
    Authorization header of every request."""

    def __init__(self) -> None:
        self.authorization: list[str | None] = []
        super().__init__()

    def _handler(self):  # type: ignore[no-untyped-def]
        base, owner = super()._handler(), self

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:
                owner.authorization.append(self.headers.get("Authorization"))
                super().do_POST()

        return Handler


async def test_gateway_routes_every_call_through_the_proxy(
    start_client, project: Path, kaizen_home: Path
):
    with RecordingProxy() as proxy:
        proxy.enqueue("issue_detector", {"issues": [{
            "line": 1, "severity": "warning", "category": "bug",
            "message": "Mutable default argument", "rationale": "shared between calls"}]})
        env = server_env(kaizen_home, KAIZEN_GATEWAY_URL=proxy.url,
                         KAIZEN_GATEWAY_KEY="sk-team-virtual-key-0001")
        options = model_options(proxy)
        for pipeline in ("autofix", "refactor"):  # no endpoint or key of their own
            options[pipeline] = {"provider": "openai", "model": "gpt-4o-mini"}
        client = await start_client(options, env=env)
        uri = open_document(client, project / "bucket.py", "def add(x, b=[]):\n    return b\n")
        diagnostics = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
        assert diagnostics[0].message.startswith("Mutable default argument")
        requests = proxy.requests_for("issue_detector")
        assert requests and requests[0]["body"]["model"] == "gpt-4o-mini"
        assert set(proxy.authorization) == {"Bearer sk-team-virtual-key-0001"}
        assert isinstance(diagnostics[0], types.Diagnostic)

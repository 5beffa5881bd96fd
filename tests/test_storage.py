"""Storage: migrations upgrade old databases in place; two processes writing lose nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from kaizen.core.runs import RunStatus, RunTotals
from kaizen.memory.migrate import SCHEMA_VERSION
from kaizen.memory.store import Store

ROOT = Path(__file__).resolve().parent.parent

# The v1 schema as Kaizen 0.0 created it: insights had no recorded_by / embedder columns
# and findings no pr columns.
V1_SCHEMA = """
CREATE TABLE meta (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, pipeline VARCHAR(16) NOT NULL, uri TEXT NOT NULL,
    repository TEXT NOT NULL, language VARCHAR(32) NOT NULL, document_version INTEGER,
    status VARCHAR(16) NOT NULL, provider VARCHAR(64), model VARCHAR(128),
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost_usd FLOAT NOT NULL,
    latency_ms FLOAT NOT NULL, findings_count INTEGER NOT NULL, insight_ids JSON NOT NULL,
    error TEXT, pid INTEGER, started_at DATETIME NOT NULL, finished_at DATETIME);
CREATE TABLE workflow_insights (
    id INTEGER PRIMARY KEY, workflow_id INTEGER, repository TEXT NOT NULL,
    language VARCHAR(32) NOT NULL, kind VARCHAR(32) NOT NULL, category VARCHAR(64) NOT NULL,
    fingerprint VARCHAR(64), summary TEXT NOT NULL, detail TEXT NOT NULL,
    content_hash VARCHAR(64) NOT NULL, occurrences INTEGER NOT NULL, source_run_id INTEGER,
    created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
    UNIQUE (repository, content_hash));
INSERT INTO runs VALUES (1, 'autofix', 'file:///a.py', 'github.com/acme/w', 'python', 1,
    'running', 'openai', 'openai/gpt-4o', 10, 5, 0.01, 120.0, 1, '[]', NULL, 999999999,
    '2025-01-01 00:00:00', NULL);
INSERT INTO workflow_insights VALUES (1, NULL, 'github.com/acme/w', 'python', 'finding_rejected',
    'bug', 'abc', '[bug] Division by zero (reason: guarded upstream)', '', 'h1', 3, 1,
    '2025-01-01 00:00:00', '2025-01-01 00:00:00');
"""


def test_old_database_upgrades_in_place_without_loss(tmp_path: Path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.commit()
    db.close()

    store = Store.open(path)
    store.close()

    db = sqlite3.connect(path)
    assert db.execute("select value from meta where key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),)
    columns = {row[1] for row in db.execute("pragma table_info(workflow_insights)")}
    assert {"recorded_by", "embedder"} <= columns
    row = db.execute(
        "select summary, occurrences, recorded_by from workflow_insights where id = 1").fetchone()
    assert row == ("[bug] Division by zero (reason: guarded upstream)", 3, "")
    assert {"pr_url", "pr_number"} <= {r[1] for r in db.execute("pragma table_info(findings)")}
    # the run a dead process left 'running' is marked failed on the next start
    status, error = db.execute("select status, error from runs where id = 1").fetchone()
    assert status == "failed" and "interrupted" in error


def test_a_v3_database_reads_dismissed_findings_by_index(tmp_path: Path):
    """Every run reads the repository's dismissed findings; a v3 database gains the index
    that keeps that read from scanning every finding ever recorded."""
    path = tmp_path / "v3.db"
    Store.open(path).close()
    db = sqlite3.connect(path)
    db.executescript("DROP INDEX ix_findings_repo_status;"
                     "UPDATE meta SET value = '3' WHERE key = 'schema_version';")
    db.close()
    Store.open(path).close()
    db = sqlite3.connect(path)
    try:
        assert "ix_findings_repo_status" in {r[1] for r in db.execute("pragma index_list(findings)")}
        plan = " ".join(str(r[-1]) for r in db.execute(
            "explain query plan select fingerprint, outcome_reason from findings "
            "where repository = 'r' and status = 'rejected'"))
        assert "USING INDEX ix_findings_repo_status" in plan
    finally:
        db.close()


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {server!r})
    from kaizen.config import Settings
    from kaizen.memory import insights
    from kaizen.memory.loop import LearningLoop
    from kaizen.memory.store import Store

    store = Store.open({db!r})
    loop = LearningLoop(store, Settings())
    who = sys.argv[1]
    for i in range({n}):
        items = [
            insights.InsightInput(kind="issue_found", category="bug", summary=f"shared lesson {{i}}",
                                  detail="", repository="repo", language="python"),
            insights.InsightInput(kind="issue_found", category="bug", summary=f"{{who}} lesson {{i}}",
                                  detail="", repository="repo", language="python"),
        ]
        insights.record(store.engine, loop.embedder, items, who)
    store.close()
""")


def test_a_current_database_opens_without_migrating_and_a_changed_schema_still_migrates(
    tmp_path: Path,
):
    """The schema fingerprint lets a database at this version open with one read; one
    whose fingerprint differs (a column this version added by hand, say) is migrated."""
    from kaizen.memory.migrate import is_current, schema_fingerprint

    path = tmp_path / "k.db"
    Store.open(path).close()
    store = Store.open(path)
    assert is_current(store.engine)
    store.close()

    db = sqlite3.connect(path)
    assert db.execute("select value from meta where key='schema_fingerprint'").fetchone() == (
        schema_fingerprint(),)
    db.execute("drop table unit_reviews")
    db.execute("update meta set value = 'stale' where key = 'schema_fingerprint'")
    db.commit()
    db.close()

    store = Store.open(path)
    assert is_current(store.engine)
    store.close()
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("select name from sqlite_master where type = 'table'")}
    assert "unit_reviews" in tables


def test_two_processes_writing_lose_nothing(tmp_path: Path):
    db = tmp_path / "shared.db"
    Store.open(db).close()
    n = 40
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(server=str(ROOT / "server"), db=str(db), n=n))
    procs = [subprocess.Popen([sys.executable, str(script), who]) for who in ("alice", "bob")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("select summary, occurrences from workflow_insights"))
    assert len(rows) == 3 * n
    assert all(rows[f"shared lesson {i}"] == 2 for i in range(n))
    assert all(rows[f"{who} lesson {i}"] == 1 for who in ("alice", "bob") for i in range(n))
    # every insight is searchable: FTS and vector rows kept in step
    assert conn.execute("select count(*) from insights_fts").fetchone() == (3 * n,)


def test_unit_review_cache_writes_overwrites_and_stamps_in_one_statement(tmp_path: Path):
    check_unit_review_cache(Store.open(tmp_path / "k.db"))


def check_unit_review_cache(store: Store) -> None:
    """A run's new entries go in as one executemany; a repeat overwrites the findings.
    (tests/test_postgres.py runs it on PostgreSQL.)"""
    first = {"h1": [{"line": 1, "message": "a"}], "h2": []}
    store.complete_run(
        store.start_run("autofix", "file:///a.py", "repo", "python", 1),
        RunStatus.SUCCEEDED,
        RunTotals(),
        cache=("repo", "a.py", "autofix", first, []),
    )
    assert store.cached_units("repo", "a.py", ["h1", "h2", "h3"]) == first
    again = {"h1": [{"line": 2, "message": "b"}]}
    store.complete_run(
        store.start_run("autofix", "file:///a.py", "repo", "python", 2),
        RunStatus.SUCCEEDED,
        RunTotals(),
        cache=("repo", "a.py", "autofix", again, ["h2"]),
    )
    assert store.cached_units("repo", "a.py", ["h1", "h2"]) == {**first, **again}
    assert store.has_cached_units()
    # a long unit's version (changed-lines review): the last one used is found by its name
    store.complete_run(
        store.start_run("autofix", "file:///a.py", "repo", "python", 3),
        RunStatus.SUCCEEDED,
        RunTotals(),
        cache=("repo", "a.py", "autofix", {"h4": [{"line": 3, "message": "c"}]}, []),
        versions={"h4": ("settle", "key", ["d1", "d2"])},
    )
    assert store.earlier_units("repo", "a.py", "key", ["settle", "other"]) == {
        "settle": ("h4", ["d1", "d2"], [{"line": 3, "message": "c"}])
    }
    assert store.earlier_units("repo", "a.py", "another model", ["settle"]) == {}
    store.close()

"""Bring a database of any earlier Kaizen version up to the current schema, in place.

Steps are additive and idempotent: create missing tables, add missing columns (all new
columns are nullable or defaulted), then run the numbered data migrations not yet applied.
The version lives in the ``meta`` table so the same code works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.schema import ColumnDefault, CreateColumn

from .meta import get_meta, has_meta_table, set_meta
from .schema import Base

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5  # 3: unit_reviews, predicted cost, test results, the contextual router;
# 4: findings by (repository, status); 5: unit_reviews' name, answer key and lines
# (changed-lines review)


def _add_missing_columns(conn: Connection) -> list[str]:
    added: list[str] = []
    inspector = inspect(conn)
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            ddl = str(CreateColumn(column).compile(dialect=conn.dialect))
            # A Sequence (also a column default) has no ``arg``: only scalar defaults qualify.
            default = column.default.arg if isinstance(column.default, ColumnDefault) else None
            if not column.nullable and isinstance(default, (int, float, str)):
                ddl += (
                    f" DEFAULT {default!r}" if isinstance(default, str) else f" DEFAULT {default}"
                )
            elif not column.nullable:
                ddl = ddl.replace("NOT NULL", "")
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))
            added.append(f"{table.name}.{column.name}")
    return added


def _v2_backfill_recorded_by(conn: Connection) -> None:
    """v2 added ``recorded_by`` and ``embedder``; older rows get empty strings, not NULL."""
    conn.execute(text("UPDATE workflow_insights SET recorded_by = '' WHERE recorded_by IS NULL"))
    conn.execute(text("UPDATE workflow_insights SET embedder = '' WHERE embedder IS NULL"))


def _v3_model_task_index(conn: Connection) -> None:
    """v3 reads a model's newest calls on a task after every call (degradation alerts);
    ``create_all`` makes the index only for a new table."""
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_model_calls_model_task ON model_calls (model, task, id)"
        )
    )


def _v4_findings_status_index(conn: Connection) -> None:
    """v4 reads a repository's dismissed findings by index on every run (the table grows
    with every finding ever shown); ``create_all`` makes the index only for a new table."""
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_findings_repo_status ON findings (repository, status)"
        )
    )


def _v5_unit_name_index(conn: Connection) -> None:
    """v5 looks a changed unit's earlier versions up by name (changed-lines review)."""
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_unit_reviews_name "
            "ON unit_reviews (repository, path, unit_name)"
        )
    )


DATA_MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _v2_backfill_recorded_by,
    3: _v3_model_task_index,
    4: _v4_findings_status_index,
    5: _v5_unit_name_index,
}


def current_version(conn: Connection) -> int:
    if not has_meta_table(conn):
        return 0
    value = get_meta(conn, "schema_version")
    return int(value) if value else 0


def schema_fingerprint() -> str:
    """A digest of every table and column this version declares: stored after a migration,
    so a database already at it is opened without inspecting each table in a write
    transaction (~0.15 s of every ``kaizen check`` start)."""
    shape = sorted(
        (table.name, sorted(column.name for column in table.columns))
        for table in Base.metadata.sorted_tables
    )
    return hashlib.sha1(repr((SCHEMA_VERSION, shape)).encode()).hexdigest()[:16]


def is_current(engine: Engine) -> bool:
    """The database is at this version's schema (a read, no lock)."""
    with engine.connect() as conn:
        return (
            has_meta_table(conn)
            and current_version(conn) == SCHEMA_VERSION
            and get_meta(conn, "schema_fingerprint") == schema_fingerprint()
        )


def migrate(engine: Engine) -> int:
    """Upgrade ``engine``'s database to SCHEMA_VERSION; returns the version it started at."""
    from .db import write_lock, writer

    if is_current(engine):
        return SCHEMA_VERSION
    with writer(engine).begin() as conn:
        write_lock(conn, "kaizen:migrate")  # PostgreSQL: servers starting together queue
        start = current_version(conn)
        Base.metadata.create_all(conn)
        added = _add_missing_columns(conn)
        if added:
            log.info("added columns: %s", ", ".join(added))
        for version in range(max(start, 1) + 1, SCHEMA_VERSION + 1):
            if step := DATA_MIGRATIONS.get(version):
                step(conn)
        if start < SCHEMA_VERSION:
            set_meta(conn, "schema_version", str(SCHEMA_VERSION))
        set_meta(conn, "schema_fingerprint", schema_fingerprint())
    return start

"""Upserts that increment in SQL, on SQLite and PostgreSQL alike.

``INSERT ... ON CONFLICT (keys) DO UPDATE SET n = table.n + excluded.n``: one statement, so
several server processes sharing the database never lose an update and nobody reads a
counter into Python to write it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session


def dialect_insert(bind: Session | Connection, table: Table) -> Any:
    """``insert(table)`` of the bind's dialect, so ``on_conflict_do_update`` is available."""
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    name = dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise RuntimeError(  # pragma: no cover - Kaizen supports SQLite and PostgreSQL
        f"unsupported database dialect: {name}"
    )


def upsert_increment(
    session: Session,
    table: Table,
    keys: Mapping[str, Any],
    increments: Mapping[str, float],
    assign: Mapping[str, Any] | None = None,
    index: Sequence[str] | None = None,
    insert_only: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``keys | increments | assign | insert_only``; on conflict add ``increments``
    and set ``assign`` (``insert_only`` values, e.g. a first-seen time, are kept)."""
    assign = dict(assign or {})
    values = {**keys, **increments, **assign, **(insert_only or {})}
    stmt = dialect_insert(session, table).values(values)
    updates: dict[str, Any] = {name: table.c[name] + stmt.excluded[name] for name in increments}
    updates.update({name: stmt.excluded[name] for name in assign})
    session.execute(stmt.on_conflict_do_update(index_elements=list(index or keys), set_=updates))

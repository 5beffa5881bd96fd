"""Upserts that increment in SQL, on SQLite and PostgreSQL alike.

``INSERT ... ON CONFLICT (keys) DO UPDATE SET n = table.n + excluded.n``: one statement, so
several server processes sharing the database never lose an update and nobody reads a
counter into Python to write it back.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement


def dialect_insert(bind: Session | Connection, table: Table) -> Any:
    """``insert(table)`` of the bind's dialect, so ``on_conflict_do_update`` is available."""
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    return _insert_of(dialect.name, table)


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
    and set ``assign`` (``insert_only`` values, e.g. a first-seen time, are kept).

    The statement is built once per shape (table, dialect, column names) and the values
    are its parameters: building an ``INSERT ... ON CONFLICT`` costs ~0.7 ms, more than
    executing it, and a check records one after every model call. The same SQL and the
    same rows (tests/test_upsert_statement.py); a value that is itself a SQL expression
    takes the statement built around it."""
    assign = dict(assign or {})
    values = {**keys, **increments, **assign, **(insert_only or {})}
    if any(isinstance(v, ClauseElement) for v in values.values()):
        stmt = dialect_insert(session, table).values(values)
        updates: dict[str, Any] = {n: table.c[n] + stmt.excluded[n] for n in increments}
        updates.update({name: stmt.excluded[name] for name in assign})
        index_elements = list(index or keys)
        session.execute(stmt.on_conflict_do_update(index_elements=index_elements, set_=updates))
        return
    shape = (tuple(keys), tuple(increments), tuple(assign), tuple(index or keys))
    session.execute(_upsert(session.get_bind().dialect.name, table, shape), values)


@functools.lru_cache(maxsize=128)
def _upsert(
    dialect: str,
    table: Table,
    shape: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]],
) -> Any:
    """The increment upsert of one shape, its values left to the execution's parameters."""
    _keys, increments, assign, index = shape
    stmt = _insert_of(dialect, table)
    updates: dict[str, Any] = {name: table.c[name] + stmt.excluded[name] for name in increments}
    updates.update({name: stmt.excluded[name] for name in assign})
    return stmt.on_conflict_do_update(index_elements=list(index), set_=updates)


def _insert_of(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise RuntimeError(  # pragma: no cover - Kaizen supports SQLite and PostgreSQL
        f"unsupported database dialect: {dialect}"
    )

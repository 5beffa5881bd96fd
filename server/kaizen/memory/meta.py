"""The ``meta`` table, read and written one way: small key/value facts about the database
(schema version, the embedder and layout the search index was built for, import stamps).

Works on SQLite and PostgreSQL alike (``ON CONFLICT`` upsert), on a caller's connection so
it joins the caller's transaction.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, inspect, text


def get_meta(conn: Connection, key: str) -> str | None:
    row = conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).first()
    return None if row is None else str(row[0])


def meta_items(conn: Connection, prefix: str) -> dict[str, dict[str, Any]]:
    """The JSON values stored under keys starting with ``prefix``, by their ``id`` field
    (records kept as meta rows: rejected proposals, demoted rules); a row that is not such
    a record is skipped."""
    out: dict[str, dict[str, Any]] = {}
    rows = conn.execute(text("SELECT value FROM meta WHERE key LIKE :p"), {"p": prefix + "%"})
    for (value,) in rows:
        try:
            item = json.loads(value)
            out[str(item["id"])] = item
        except (ValueError, KeyError, TypeError):
            continue
    return out


def set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        text(
            "INSERT INTO meta (key, value) VALUES (:k, :v) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        ),
        {"k": key, "v": value},
    )


def delete_meta(conn: Connection, key: str) -> None:
    conn.execute(text("DELETE FROM meta WHERE key = :k"), {"k": key})


def has_meta_table(conn: Connection) -> bool:
    return bool(inspect(conn).has_table("meta"))

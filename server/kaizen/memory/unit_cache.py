"""The unit review cache, through SQLAlchemy on SQLite and PostgreSQL alike.

Shared by every face: the editor, ``kaizen check``, MCP and HTTP read and fill the same
rows, so a unit reviewed once (anywhere) is not paid for again. Bounded: past ``max_rows``
the least recently used rows are evicted. Reads are one SELECT; hits are stamped and new
entries written inside the run's single write transaction (``Store.complete_run``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Text, cast, delete, func, select, update
from sqlalchemy.orm import Session

from .schema import UnitReview, utcnow
from .sql import dialect_insert


def lookup(
    session: Session, repository: str, path: str, hashes: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Cached findings by unit hash, for the hashes that are cached.

    Every save looks up every unit of the file (~330 in 2,000 lines), and most have no
    finding: the rows are read as text on the plain connection and only the non-empty
    ones decoded (1.8 -> 1.2 ms for 333 units, the same result)."""
    wanted = list(dict.fromkeys(hashes))
    if not wanted:
        return {}
    table = UnitReview.__table__
    rows = session.connection().execute(
        select(table.c.unit_hash, cast(table.c.findings, Text)).where(
            table.c.repository == repository,
            table.c.path == path,
            table.c.unit_hash.in_(wanted),
        )
    )
    return {unit_hash: _findings(raw) for unit_hash, raw in rows}


def _findings(raw: str | None) -> list[dict[str, Any]]:
    if not raw or raw == "[]":
        return []
    value = json.loads(raw)
    return list(value) if isinstance(value, list) else []


Version = tuple[str, str, list[str]]
"""What a long unit's row remembers to be reviewed in a window later: (unit name, answer
key, a digest of each of the unit's lines)."""

def earlier(
    session: Session, repository: str, path: str, answer_key: str, names: Iterable[str]
) -> dict[str, tuple[str, list[str], list[dict[str, Any]]]]:
    """Per unit name, its last used version under ``answer_key`` (reviewed or taken from the
    cache: the previous save's), as (hash, lines, findings). Two reads, whatever the number
    of names: the versions' hashes (no text), then the chosen rows."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    newest: dict[str, str] = {}
    for row in session.execute(
        select(UnitReview.unit_name, UnitReview.unit_hash)
        .where(
            UnitReview.repository == repository,
            UnitReview.path == path,
            UnitReview.unit_name.in_(wanted),
            UnitReview.answer_key == answer_key,
        )
        .order_by(UnitReview.used_at.desc(), UnitReview.id.desc())
    ):
        if row.unit_name is not None:
            newest.setdefault(row.unit_name, row.unit_hash)
    if not newest:
        return {}
    chosen = {
        row.unit_hash: (row.lines, row.findings)
        for row in session.execute(
            select(UnitReview.unit_hash, UnitReview.lines, UnitReview.findings).where(
                UnitReview.repository == repository,
                UnitReview.path == path,
                UnitReview.unit_hash.in_(list(newest.values())),
            )
        )
    }
    out = {}
    for name, unit_hash in newest.items():
        lines, findings = chosen.get(unit_hash, (None, None))
        if isinstance(lines, list):
            out[name] = (unit_hash, [str(x) for x in lines], list(findings or []))
    return out


def store(
    session: Session,
    repository: str,
    path: str,
    pipeline: str,
    entries: Mapping[str, list[dict[str, Any]]],
    hits: Iterable[str] = (),
    max_rows: int = 50_000,
    versions: Mapping[str, Version] | None = None,
) -> None:
    """Write new entries (a repeat overwrites), stamp the hits as used, evict past the cap.
    ``versions``: by hash, what a long unit's row keeps for changed-lines review."""
    versions = versions or {}
    unversioned: Version | tuple[None, None, None] = (None, None, None)
    now = utcnow()
    hit_list = list(hits)
    if hit_list:
        session.execute(
            update(UnitReview)
            .where(
                UnitReview.repository == repository,
                UnitReview.path == path,
                UnitReview.unit_hash.in_(hit_list),
            )
            .values(used_at=now)
        )
    if entries:  # one statement for all of them, compiled once (executemany)
        stmt = dialect_insert(session, UnitReview.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["repository", "path", "unit_hash"],
            set_={
                "findings": stmt.excluded.findings,
                "used_at": stmt.excluded.used_at,
                "unit_name": stmt.excluded.unit_name,
                "answer_key": stmt.excluded.answer_key,
                "lines": stmt.excluded.lines,
            },
        )
        rows = []
        for unit_hash, findings in entries.items():
            name, key, lines = versions.get(unit_hash, unversioned)
            rows.append(
                {
                    "repository": repository,
                    "path": path,
                    "unit_hash": unit_hash,
                    "pipeline": pipeline,
                    "findings": findings,
                    "created_at": now,
                    "used_at": now,
                    "unit_name": name,
                    "answer_key": key,
                    "lines": lines,
                }
            )
        session.execute(stmt, rows)
    if entries:
        _evict(session, max_rows)


def _evict(session: Session, max_rows: int) -> None:
    count = session.scalar(select(func.count()).select_from(UnitReview)) or 0
    if count <= max_rows:
        return
    oldest = (
        select(UnitReview.id).order_by(UnitReview.used_at, UnitReview.id).limit(count - max_rows)
    )
    session.execute(delete(UnitReview).where(UnitReview.id.in_(oldest.scalar_subquery())))


def clear(session: Session, repository: str | None = None) -> int:
    """Forget cached reviews (all, or one repository's): the next run reviews afresh."""
    query = delete(UnitReview)
    if repository is not None:
        query = query.where(UnitReview.repository == repository)
    # Session.execute is typed as returning Result; a DELETE's is a CursorResult (rowcount).
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]

"""What the learned rules read from and keep in the database: the outcomes of one
repository's findings, and the proposals the team rejected (never proposed again).

A rejection is one ``meta`` row per proposal (key ``rules.rejected:<repo>:<proposal>``,
hashed to fit): an upsert, so two processes rejecting at once never lose one, on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..memory.meta import set_meta
from ..memory.schema import FindingRow
from .learn import Outcome, relpath_of


def _hash(value: str, n: int) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:n]


def _prefix(repository: str) -> str:
    return f"rules.rejected:{_hash(repository, 16)}:"


def outcomes(store: Any, repository: str, root: Path) -> list[Outcome]:
    """Every finding of ``repository`` with an outcome, its path relative to ``root``."""
    query = select(
        FindingRow.code,
        FindingRow.category,
        FindingRow.uri,
        FindingRow.status,
        FindingRow.message,
        FindingRow.start_line,
        FindingRow.outcome_reason,
    ).where(
        FindingRow.repository == repository,
        FindingRow.status.in_(("accepted", "fixed_by_hand", "rejected")),
    )
    out: list[Outcome] = []
    with store.readers() as s:
        for code, category, uri, status, message, line, reason in s.execute(query):
            relpath = relpath_of(uri, root)
            if relpath is None:
                continue
            out.append(Outcome(code or category, relpath, status, message, line, reason))
    return out


def rejected(store: Any, repository: str) -> dict[str, dict[str, Any]]:
    """Proposal id -> when (and why) it was rejected, for ``repository``."""
    from ..memory.meta import meta_items

    with store.readers() as s:
        return meta_items(s.connection(), _prefix(repository))


def reject(store: Any, repository: str, proposal_id: str, reason: str | None = None) -> None:
    item = {
        "id": proposal_id,
        "reason": reason,
        "rejectedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with store.sessions.begin() as s:
        set_meta(s.connection(), _prefix(repository) + _hash(proposal_id, 24), json.dumps(item))

"""Insights: what Kaizen learns from each run and from what the user did with its findings.

After every run the findings become insights (issue found, fix proposed, opportunity,
improvement); outcomes reported by the editor become stronger ones (fix accepted, finding
dismissed with its reason, fixed by hand, shown repeatedly and ignored). The same lesson in
the same repository is one row whose ``occurrences`` grows, incremented in SQL so that
concurrent servers never lose a count; each new row gets an embedding in the search index.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, func, literal_column, select, text

from ..core.embed import Embedder, insight_text
from ..core.findings import Finding
from ..security.redact import scrub
from .db import writer
from .schema import WorkflowInsight, utcnow
from .search import index_insight, remove_insight

# What each kind of insight tells the next prompt (and a person reading `kaizen learnings`).
KIND_LABELS = {
    "issue_found": "Found before",
    "fix_proposed": "Fix proposed",
    "fix_accepted": "Fix accepted by the user",
    "finding_rejected": "Dismissed by the user",
    "fixed_by_hand": "Fixed by hand by the user",
    "ignored": "Shown repeatedly and ignored",
    "opportunity_found": "Refactor suggested",
    "improvement_proposed": "Refactor drafted",
    "refactor_accepted": "Refactor accepted by the user",
    "refactor_rejected": "Refactor dismissed by the user",
}
OUTCOME_KINDS = {
    ("autofix", "accepted"): "fix_accepted",
    ("autofix", "rejected"): "finding_rejected",
    ("refactor", "accepted"): "refactor_accepted",
    ("refactor", "rejected"): "refactor_rejected",
}
_SPACE = re.compile(r"\s+")
MAX_DETAIL = 1200


@dataclass
class InsightInput:
    kind: str
    category: str
    summary: str
    detail: str
    repository: str
    language: str
    fingerprint: str | None = None
    run_id: int | None = None
    workflow_id: int | None = None

    @property
    def content_hash(self) -> str:
        """Same kind + category + wording (normalised) = the same lesson."""
        key = "\x1f".join((self.kind, self.category, _SPACE.sub(" ", self.summary.lower()).strip()))
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def _clip(text_: str, limit: int) -> str:
    return text_ if len(text_) <= limit else text_[: limit - 1] + "…"


def flagged_code(lines: Sequence[str], f: Finding, limit: int = 400) -> str:
    return _clip("\n".join(lines[f.start_line - 1 : f.end_line]).strip(), limit)


def from_finding(
    f: Finding,
    lines: Sequence[str],
    repository: str,
    language: str,
    path: str,
    run_id: int | None,
) -> list[InsightInput]:
    """The insights one published finding yields: found, and its proposed change if any."""
    found_kind = "opportunity_found" if f.pipeline == "refactor" else "issue_found"
    what = f.title or f.message
    detail = f"{f.rationale}\nIn {path}:\n{flagged_code(lines, f)}".strip()
    found = InsightInput(
        kind=found_kind,
        category=f.code or f.category,
        summary=f"[{f.code or f.category}] {what}",
        detail=_clip(detail, MAX_DETAIL),
        repository=repository,
        language=language,
        fingerprint=f.fingerprint,
        run_id=run_id,
    )
    out = [found]
    if f.edits and f.origin == "model":
        change_kind = "improvement_proposed" if f.pipeline == "refactor" else "fix_proposed"
        change = "\n".join(e.new_text for e in f.edits)
        out.append(
            replace(
                found,
                kind=change_kind,
                summary=f"{f.fix_title or 'Change'} (for: {what})",
                detail=_clip(change, MAX_DETAIL),
            )
        )
    return out


def from_outcome(
    f: Finding,
    outcome: str,
    lines: Sequence[str],
    repository: str,
    language: str,
    reason: str | None = None,
) -> InsightInput:
    """An outcome reported by the editor: accepted, rejected, fixed by hand, ignored."""
    kind = OUTCOME_KINDS.get((f.pipeline, outcome), outcome)
    what = f.title or f.message
    summary = f"[{f.code or f.category}] {what}"
    if reason:
        summary += f" (reason: {_clip(reason.strip(), 200)})"
    detail = flagged_code(lines, f)
    if f.edits and outcome == "accepted":
        detail += "\nAccepted change:\n" + "\n".join(e.new_text for e in f.edits)
    return InsightInput(
        kind=kind,
        category=f.code or f.category,
        summary=summary,
        detail=_clip(detail, MAX_DETAIL),
        repository=repository,
        language=language,
        fingerprint=f.fingerprint,
    )


def record(
    engine: Engine, embedder: Embedder, items: Sequence[InsightInput], recorded_by: str = ""
) -> list[int]:
    """Insert or merge insights; new ones are embedded and indexed. Returns their ids.

    Embeddings are computed before the transaction (a provider embedder is a network call),
    and only for items not stored yet: a save records every finding it shows again, and
    embedding them all each time was most of the recording's cost. An item that turns out
    new after all (its row was forgotten in between) is embedded then.
    """
    if not items:
        return []
    for item in items:  # nothing secret is ever stored, whatever the caller passed
        item.summary, item.detail = scrub(item.summary), scrub(item.detail)
    keys = [(item.repository, item.content_hash) for item in items]
    stored = _stored(engine, keys)
    fresh = [i for i, key in enumerate(keys) if key not in stored]
    texts = [insight_text(items[i].summary, items[i].detail) for i in fresh]
    vectors = dict(zip(fresh, embedder.embed(texts) if texts else [], strict=True))
    ids = [0] * len(items)
    # One lock order for every writer (PostgreSQL locks each merged row until commit), so
    # two servers recording overlapping insights cannot dead-lock.
    order = sorted(range(len(items)), key=lambda i: keys[i])
    with writer(engine).begin() as conn:
        if conn.dialect.name == "sqlite":  # the write lock is held: what is stored stays
            order = _count_again(conn, items, keys, order, ids)
        for i in order:
            item = items[i]
            insight_id, created = _upsert(conn, item, embedder.name, recorded_by)
            if created:
                vector = vectors.get(i)
                if vector is None:
                    [vector] = embedder.embed([insight_text(item.summary, item.detail)])
                index_insight(conn, insight_id, item.repository, item.language, vector)
            ids[i] = insight_id
    return ids


def _count_again(
    conn: Connection,
    items: Sequence[InsightInput],
    keys: Sequence[tuple[str, str]],
    order: list[int],
    ids: list[int],
) -> list[int]:
    """Count another occurrence of every item already stored, in one statement run for
    all of them (a save records every finding it shows again: one UPDATE ... RETURNING per
    finding was most of the recording, which competes with the next save). Their ids go
    to ``ids``; returns the items still to insert, in ``order``."""
    found = _ids(conn, keys)
    again = [i for i in order if keys[i] in found]
    if again:
        now = utcnow()
        conn.execute(
            text(
                "UPDATE workflow_insights SET occurrences = occurrences + 1, "
                "updated_at = :now, source_run_id = COALESCE(:run, source_run_id) "
                "WHERE id = :id"
            ),
            [{"now": now, "run": items[i].run_id, "id": found[keys[i]]} for i in again],
        )
        for i in again:
            ids[i] = found[keys[i]]
    return [i for i in order if keys[i] not in found]


def _ids(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    repositories = sorted({r for r, _ in keys})
    hashes = sorted({h for _, h in keys})
    rows = conn.execute(
        select(WorkflowInsight.repository, WorkflowInsight.content_hash, WorkflowInsight.id).where(
            WorkflowInsight.repository.in_(repositories),
            WorkflowInsight.content_hash.in_(hashes),
        )
    )
    return {(r, h): int(i) for r, h, i in rows}


def _stored(engine: Engine, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of the (repository, content hash) ``keys`` that are insights already."""
    repositories = sorted({r for r, _ in keys})
    hashes = sorted({h for _, h in keys})
    with engine.connect() as conn:
        rows = conn.execute(
            select(WorkflowInsight.repository, WorkflowInsight.content_hash).where(
                WorkflowInsight.repository.in_(repositories),
                WorkflowInsight.content_hash.in_(hashes),
            )
        )
        return {(r, h) for r, h in rows}


def _upsert(
    conn: Connection, item: InsightInput, embedder: str, recorded_by: str
) -> tuple[int, bool]:
    if conn.dialect.name == "postgresql":
        return _upsert_postgresql(conn, item, embedder, recorded_by)
    now = utcnow()
    updated = conn.execute(
        text(
            "UPDATE workflow_insights SET occurrences = occurrences + 1, updated_at = :now, "
            "source_run_id = COALESCE(:run, source_run_id) "
            "WHERE repository = :repo AND content_hash = :hash RETURNING id"
        ),
        {"now": now, "run": item.run_id, "repo": item.repository, "hash": item.content_hash},
    ).first()
    if updated is not None:
        return int(updated[0]), False
    values = insert_values(item, embedder, recorded_by)
    values["created_at"] = values["updated_at"] = now
    row = conn.execute(
        WorkflowInsight.__table__.insert()
        .values(**values)
        .returning(WorkflowInsight.__table__.c.id)
    ).first()
    assert row is not None
    return int(row[0]), True


def insert_values(item: InsightInput, embedder: str, recorded_by: str) -> dict[str, object]:
    now = utcnow()
    return dict(
        workflow_id=item.workflow_id,
        repository=item.repository,
        language=item.language,
        kind=item.kind,
        category=item.category,
        fingerprint=item.fingerprint,
        summary=item.summary,
        detail=item.detail,
        content_hash=item.content_hash,
        occurrences=1,
        source_run_id=item.run_id,
        recorded_by=recorded_by,
        embedder=embedder,
        created_at=now,
        updated_at=now,
    )


def _upsert_postgresql(
    conn: Connection, item: InsightInput, embedder: str, recorded_by: str
) -> tuple[int, bool]:
    """One statement, race-free between servers: a concurrent insert of the same lesson
    waits on the unique index, then counts as an occurrence instead of failing. ``xmax``
    is 0 only on a freshly inserted row version."""
    from sqlalchemy.dialects.postgresql import insert

    table: Any = WorkflowInsight.__table__
    new = insert(table).values(**insert_values(item, embedder, recorded_by))
    upsert = new.on_conflict_do_update(
        index_elements=["repository", "content_hash"],
        set_={
            "occurrences": table.c.occurrences + 1,
            "updated_at": new.excluded.updated_at,
            "source_run_id": func.coalesce(new.excluded.source_run_id, table.c.source_run_id),
        },
    ).returning(table.c.id, literal_column("(xmax = 0)").label("inserted"))
    row = conn.execute(upsert).one()
    return int(row.id), bool(row.inserted)


def delete(engine: Engine, insight_id: int) -> bool:
    """Forget one insight (a wrong learning); its index rows go with it."""
    with writer(engine).begin() as conn:
        found = conn.execute(
            select(WorkflowInsight.id).where(WorkflowInsight.id == insight_id)
        ).first()
        if found is None:  # nothing to forget (and a fresh database has no index yet)
            return False
        remove_insight(conn, insight_id)
        result = conn.execute(
            text("DELETE FROM workflow_insights WHERE id = :id"), {"id": insight_id}
        )
        return bool(result.rowcount)


def count(engine: Engine, repository: str | None = None) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(WorkflowInsight)
        if repository is not None:
            query = query.where(WorkflowInsight.repository == repository)
        return int(conn.execute(query).scalar() or 0)

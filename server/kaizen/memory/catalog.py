"""Learnings as a person sees them: list, search and delete (so a wrong lesson can be
forgotten). One implementation behind ``kaizen learnings``, the LSP commands and the agent
faces.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..core.embed import Embedder
from ..core.workspace import repository_key
from .insights import KIND_LABELS, delete
from .schema import WorkflowInsight
from .search import hybrid_search
from .store import Store


def as_json(row: WorkflowInsight, score: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "kind": row.kind,
        "label": KIND_LABELS.get(row.kind, row.kind),
        "category": row.category,
        "summary": row.summary,
        "detail": row.detail,
        "repository": row.repository,
        "language": row.language,
        "occurrences": row.occurrences,
        "recordedBy": row.recorded_by,
        "createdAt": row.created_at.isoformat() if row.created_at else None,
        "updatedAt": row.updated_at.isoformat() if row.updated_at else None,
    }
    if score is not None:
        out["score"] = round(score, 5)
    return out


def list_learnings(
    store: Store, *, repository: str | None = None, kind: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    with store.session() as s:
        query = select(WorkflowInsight).order_by(WorkflowInsight.updated_at.desc())
        if repository:
            query = query.where(WorkflowInsight.repository == repository_key(repository))
        if kind:
            query = query.where(WorkflowInsight.kind == kind)
        return [as_json(row) for row in s.scalars(query.limit(limit))]


def search_learnings(
    store: Store,
    embedder: Embedder,
    query: str,
    *,
    repository: str | None = None,
    language: str | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    [vector] = embedder.embed([query])
    with store.engine.connect() as conn:
        hits = hybrid_search(
            conn,
            query=query,
            vector=vector,
            repository=repository_key(repository) if repository else None,
            language=language,
            limit=limit,
        )
    if not hits:
        return []
    with store.session() as s:
        rows = {
            row.id: row
            for row in s.scalars(
                select(WorkflowInsight).where(WorkflowInsight.id.in_([h.insight_id for h in hits]))
            )
        }
    return [as_json(rows[h.insight_id], h.score) for h in hits if h.insight_id in rows]


def delete_learnings(store: Store, ids: list[int]) -> int:
    return len(ids) - len(missing_after_delete(store, ids))


def missing_after_delete(store: Store, ids: list[int]) -> list[int]:
    """Delete ``ids``; the ones that were not there (so the caller can name them)."""
    return [insight_id for insight_id in ids if not delete(store.engine, insight_id)]

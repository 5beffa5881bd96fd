"""Learnings a person can correct: ``kaizen learnings edit ID --text ...``.

A learning's summary is what later prompts are told; when it is wrong or badly worded the
team rewrites it instead of deleting it. The new text is scrubbed of secrets like every
stored insight, re-embedded, and written with its keyword index entry (a trigger follows the
summary) and its vector in one transaction, so search finds it by its new words at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from ..core.embed import insight_text
from ..core.errors import KaizenError
from ..memory.db import writer
from ..memory.insights import InsightInput
from ..memory.schema import WorkflowInsight, utcnow
from ..memory.search import index_insight
from ..security.redact import scrub

MAX_TEXT = 2000


def edit_learning(store: Any, embedder: Any, insight_id: int, new_text: str) -> dict[str, Any]:
    """Replace learning ``insight_id``'s summary; the updated row as a dict."""
    summary = scrub(new_text.strip())
    if not summary:
        raise KaizenError("the new text of a learning cannot be empty")
    if len(summary) > MAX_TEXT:
        raise KaizenError(f"the new text is {len(summary)} characters; at most {MAX_TEXT}")
    with store.readers() as s:
        row = s.scalar(select(WorkflowInsight).where(WorkflowInsight.id == insight_id))
    if row is None:
        raise KaizenError(f"no learning with id {insight_id}")
    item = InsightInput(row.kind, row.category, summary, row.detail, row.repository, row.language)
    clash_query = select(WorkflowInsight.id).where(
        WorkflowInsight.repository == row.repository,
        WorkflowInsight.content_hash == item.content_hash,
        WorkflowInsight.id != insight_id,
    )
    with store.readers() as s:
        clash = s.scalar(clash_query)
    if clash is not None:
        raise KaizenError(f"learning {clash} already says that; delete one of the two instead")
    [vector] = embedder.embed([insight_text(summary, row.detail)])
    with writer(store.engine).begin() as conn:
        conn.execute(
            update(WorkflowInsight)
            .where(WorkflowInsight.id == insight_id)
            .values(summary=summary, content_hash=item.content_hash, updated_at=utcnow())
        )
        index_insight(conn, insight_id, row.repository, row.language, vector)
    return {"id": insight_id, "summary": summary, "previous": row.summary}

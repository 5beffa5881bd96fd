"""The "Historical learnings" block: the insights relevant to this prompt, cut to a budget.

A hybrid search (keywords + vectors, fused) in the document's repository and language finds
candidates; the kinds that matter for the task are kept, what the user did (accepted,
dismissed, fixed by hand) goes before what Kaizen merely saw, and the block stops at the
token budget so learnings never crowd out the code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select

from ..core.document import Learnings
from ..core.embed import Embedder
from .insights import KIND_LABELS
from .schema import WorkflowInsight
from .search import hybrid_search

TASK_KINDS: dict[str, tuple[str, ...]] = {
    "issue_detector": (
        "finding_rejected",
        "fix_accepted",
        "fixed_by_hand",
        "ignored",
        "issue_found",
    ),
    "fix_generator": ("fix_accepted", "fixed_by_hand", "finding_rejected", "fix_proposed"),
    "opportunity_detector": (
        "refactor_rejected",
        "refactor_accepted",
        "ignored",
        "opportunity_found",
    ),
    "improvement_generator": ("refactor_accepted", "refactor_rejected", "improvement_proposed"),
}
USER_SIGNALS = frozenset(
    {"finding_rejected", "fix_accepted", "fixed_by_hand", "refactor_rejected", "refactor_accepted"}
)
HEADER = (
    "Historical learnings (from earlier reviews of this repository; do not repeat findings "
    "the user dismissed, and prefer the kind of fixes the user accepted):"
)
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def line_for(row: Any) -> str:
    """One line of the block (``row``: an insight, or a row of its columns)."""
    label = KIND_LABELS.get(row.kind, row.kind)
    times = f" ({row.occurrences} times)" if row.occurrences > 1 else ""
    line = f"- {label}{times}: {row.summary}"
    if row.kind in ("fix_accepted", "refactor_accepted") and "Accepted change:" in row.detail:
        change = row.detail.split("Accepted change:", 1)[1].strip().splitlines()
        line += f" — accepted change: `{' / '.join(s.strip() for s in change[:3])[:160]}`"
    return line


def retrieve(
    engine: Engine,
    embedder: Embedder,
    *,
    query: str,
    task: str,
    repository: str,
    language: str,
    limit: int,
    token_budget: int,
) -> Learnings:
    if limit <= 0 or token_budget <= 0:
        return Learnings()
    kinds = TASK_KINDS.get(task, tuple(KIND_LABELS))
    with engine.connect() as conn:
        if not _any_insight(conn, repository, language, kinds):
            return Learnings()  # nothing to find: no embedding, no search
    [vector] = embedder.embed([query])  # no connection held: a provider's is a network call
    with engine.connect() as conn:
        hits = hybrid_search(
            conn,
            query=query,
            vector=vector,
            repository=repository,
            language=language,
            limit=limit * 3,
        )
        if not hits:
            return Learnings()
        rank = {hit.insight_id: i for i, hit in enumerate(hits)}
        rows = _rows(conn, list(rank), kinds)
    rows.sort(key=lambda r: (r.kind not in USER_SIGNALS, rank[r.id]))
    lines: list[str] = []
    ids: list[int] = []
    used = estimate_tokens(HEADER)
    for row in rows[:limit]:
        line = line_for(row)
        cost = estimate_tokens(line) + 1
        if used + cost > token_budget:
            break
        lines.append(line)
        ids.append(row.id)
        used += cost
    if not lines:
        return Learnings()
    return Learnings(block="\n".join([HEADER, *lines]) + "\n", insight_ids=ids)


def _any_insight(conn: Connection, repository: str, language: str, kinds: tuple[str, ...]) -> bool:
    """Whether any insight could be found: the search only returns insights of this
    repository and language, and only those of ``kinds`` are kept. A repository with no
    history (every first ``kaizen check``) then costs one indexed read per file instead of
    an embedding and the keyword and vector searches."""
    row = conn.execute(
        select(WorkflowInsight.id)
        .where(
            WorkflowInsight.repository == repository,
            WorkflowInsight.language == language,
            WorkflowInsight.kind.in_(kinds),
        )
        .limit(1)
    ).first()
    return row is not None


def _rows(conn: Connection, ids: list[int], kinds: tuple[str, ...]) -> list[Any]:
    """The columns a learnings line needs (``line_for``), not whole ORM objects: the
    search runs on every run, and building objects cost as much as the keyword side."""
    w = WorkflowInsight
    return list(
        conn.execute(
            select(w.id, w.kind, w.occurrences, w.summary, w.detail).where(
                w.id.in_(ids), w.kind.in_(kinds)
            )
        )
    )

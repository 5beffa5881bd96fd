"""Dismissals: find the recorded finding a user names (by fingerprint, or by file and line),
mark it rejected, list what is dismissed, undo a dismissal, and decide which other findings
are "like a dismissed finding".

``kaizen dismiss``, the ``dismiss_finding`` tool (MCP, HTTP) and ``kaizen check``'s
suppression all read the one ``findings.status`` the editor writes, so a dismissal holds
everywhere, and ``undismiss`` (the ``undismiss_finding`` tool, ``kaizen undismiss``, the
editor's "Undo dismiss") reverses it everywhere.

A dismissal reaches beyond its own fingerprint only within ``review.dismissScope`` (its
file, its folder and below, or the repository) and only to findings of the same kind whose
code is alike too (``alike``): the same words about different code are a different finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import select, update

from ..core.findings import Finding, split_lines
from ..core.workspace import project_root, repository_id
from .schema import FindingRow, WorkflowInsight, utcnow

SCOPES = ("finding", "file", "folder", "repository")
CODE_ALIKE = 0.8  # token similarity from which two flagged snippets are "the same code"
REJECTED_KINDS = ("finding_rejected", "refactor_rejected")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_COMMENT = re.compile(r"(^|\s)(#|//).*$")


class NotFound(LookupError):
    """No recorded finding matches, or several do; the message says which and what to do."""


@dataclass(frozen=True)
class Target:
    row: FindingRow
    lines: list[str]  # the file as it is now (for the lesson's code), or [] if unreadable


def repository_of(path: Path) -> str:
    return repository_id(project_root(path.resolve().parent))


def _lines(uri: str) -> list[str]:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return []
    try:
        return split_lines(Path(unquote(parsed.path)).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []


def by_fingerprint(store: Any, fingerprint: str, repository: str | None) -> Target:
    with store.session() as s:
        query = select(FindingRow).where(FindingRow.fingerprint == fingerprint)
        if repository:
            query = query.where(FindingRow.repository == repository)
        rows = list(s.scalars(query))
    if not rows:
        where = f" in {repository}" if repository else ""
        raise NotFound(f"no finding with fingerprint {fingerprint}{where} is recorded")
    if len({r.repository for r in rows}) > 1:
        names = ", ".join(sorted({r.repository for r in rows}))
        raise NotFound(f"fingerprint {fingerprint} is in several repositories ({names}): name one")
    return Target(rows[0], _lines(rows[0].uri))


def by_location(store: Any, path: Path, line: int) -> Target:
    uri = path.resolve().as_uri()
    repository = repository_of(path)
    with store.session() as s:
        rows = list(
            s.scalars(
                select(FindingRow)
                .where(
                    FindingRow.repository == repository,
                    FindingRow.uri == uri,
                    FindingRow.start_line <= line,
                    FindingRow.end_line >= line,
                )
                .order_by(FindingRow.updated_at.desc())
            )
        )
    open_rows = [r for r in rows if r.status == "open"] or rows
    if not open_rows:
        raise NotFound(f"no finding is recorded at {path}:{line} (run `kaizen check {path}`)")
    if len(open_rows) > 1:
        listed = "; ".join(f"{r.fingerprint} [{r.category}] {r.message[:60]}" for r in open_rows)
        raise NotFound(
            f"{len(open_rows)} findings at {path}:{line}, name one by fingerprint: {listed}"
        )
    return Target(open_rows[0], _lines(uri))


def as_finding(row: FindingRow) -> Finding:
    """The stored finding in the shape the learning code takes."""
    return Finding(
        pipeline=row.pipeline,
        category=row.category,
        severity=row.severity,  # type: ignore[arg-type]
        start_line=row.start_line,
        end_line=row.end_line,
        message=row.message,
        rationale=row.rationale or "",
        code=row.code or row.category,
        origin=row.origin,
        model=row.model,
        fingerprint=row.fingerprint,
    )


# what a dismissal reaches -----------------------------------------------------------------


@dataclass(frozen=True)
class Dismissed:
    """One dismissal as suppression needs it."""

    fingerprint: str
    uri: str
    line: int
    code: str  # the diagnostic code (or category)
    message: str
    reason: str | None
    flagged: str | None  # the code it was about, None on dismissals from before it was kept

    @property
    def key(self) -> str:
        return f"[{self.code}] {self.message}"

    def describe(self) -> str:
        why = f" (reason: {self.reason})" if self.reason else ""
        return f"{path_of(self.uri)}:{self.line} [{self.code}] {self.message}{why}"


def dismissed(store: Any, repository: str) -> list[Dismissed]:
    with store.readers() as s:
        rows = s.scalars(
            select(FindingRow).where(
                FindingRow.repository == repository, FindingRow.status == "rejected"
            )
        )
        return [
            Dismissed(
                r.fingerprint,
                r.uri,
                r.start_line,
                r.code or r.category,
                r.message,
                r.outcome_reason,
                r.dismissed_code,
            )
            for r in rows
        ]


def path_of(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def in_scope(dismissed_uri: str, uri: str, scope: str) -> bool:
    """Whether a dismissal made in ``dismissed_uri`` reaches a finding in ``uri``."""
    if scope == "repository":
        return True
    here, there = path_of(dismissed_uri), path_of(uri)
    if scope == "file":
        return here == there
    if scope == "folder":
        folder = here.rsplit("/", 1)[0] + "/" if "/" in here else here
        return there.startswith(folder)
    return False  # "finding": its fingerprint only


def code_tokens(code: str) -> list[str]:
    """The tokens of a snippet without whitespace and end-of-line comments (``#``, ``//``
    after a blank: a rough cut that needs no grammar, enough for a similarity)."""
    return [t for line in code.splitlines() for t in _TOKEN.findall(_COMMENT.sub("", line))]


def code_alike(a: str | None, b: str | None) -> bool:
    """Two flagged snippets are the same code when their tokens mostly agree, whatever the
    spacing and comments. An empty side is never alike: a dismissal whose code was not kept
    (one from before it was) suppresses its own fingerprint only."""
    ta, tb = code_tokens(a or ""), code_tokens(b or "")
    if not ta or not tb:
        return False
    return SequenceMatcher(None, ta, tb, autojunk=False).ratio() >= CODE_ALIKE


# listing and undoing ------------------------------------------------------------------------


def as_json(row: FindingRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "repository": row.repository,
        "uri": row.uri,
        "path": path_of(row.uri),
        "line": row.start_line,
        "category": row.code or row.category,
        "message": row.message,
        "reason": row.outcome_reason,
        "model": row.model,
        "dismissedAt": row.updated_at.isoformat() if row.updated_at else None,
    }


def listing(store: Any, repository: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The dismissals in force, newest first."""
    with store.readers() as s:
        query = select(FindingRow).where(FindingRow.status == "rejected")
        if repository:
            query = query.where(FindingRow.repository == repository)
        query = query.order_by(FindingRow.updated_at.desc(), FindingRow.id.desc()).limit(limit)
        return [as_json(r) for r in s.scalars(query)]


def find(store: Any, target: str, repository: str | None = None) -> FindingRow:
    """The dismissal named by its id (as ``kaizen dismissals list`` shows) or fingerprint."""
    with store.readers() as s:
        query = select(FindingRow).where(FindingRow.status == "rejected")
        if target.isdigit() and len(target) < 16:
            query = query.where(FindingRow.id == int(target))
        else:
            query = query.where(FindingRow.fingerprint == target)
        if repository:
            query = query.where(FindingRow.repository == repository)
        rows = list(s.scalars(query))
    if not rows:
        raise NotFound(f"no dismissal {target} (`kaizen dismissals list` shows them)")
    if len(rows) > 1:
        names = ", ".join(sorted({r.repository for r in rows}))
        raise NotFound(f"dismissal {target} is in several repositories ({names}): name one")
    return rows[0]


def undismiss(store: Any, row: FindingRow) -> list[int]:
    """Undo a dismissal: the finding is open again (every face shows it on its next review)
    and the lesson its dismissal taught is taken back (one occurrence fewer, or the insight
    forgotten when it was the only one). Returns the insight ids forgotten."""
    from .insights import delete

    forgotten: list[int] = []
    with store.sessions.begin() as s:
        s.execute(
            update(FindingRow)
            .where(FindingRow.id == row.id, FindingRow.status == "rejected")
            .values(status="open", outcome_reason=None, dismissed_code=None, updated_at=utcnow())
        )
        store.outcome_generation += 1
        lessons = list(
            s.scalars(
                select(WorkflowInsight).where(
                    WorkflowInsight.repository == row.repository,
                    WorkflowInsight.fingerprint == row.fingerprint,
                    WorkflowInsight.kind.in_(REJECTED_KINDS),
                )
            )
        )
        for lesson in lessons:
            if lesson.occurrences > 1:
                lesson.occurrences -= 1
            else:
                forgotten.append(lesson.id)
    for insight_id in forgotten:
        delete(store.engine, insight_id)
    return forgotten

"""Dismissals outside the editor: find the recorded finding a user names (by fingerprint, or
by file and line), mark it rejected, and turn it into the same lesson an editor dismissal
makes. ``kaizen dismiss``, the ``dismiss_finding`` tool (MCP, HTTP) and ``kaizen check``'s
suppression all read the one ``findings.status`` the editor writes, so a dismissal holds
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..core.findings import Finding, split_lines
from ..core.workspace import project_root, repository_id
from .schema import FindingRow


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

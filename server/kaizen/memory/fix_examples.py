"""Accepted fixes kept as code, the material rules are learned from.

A finding's fix is a list of edits; what a rule generaliser needs is the code around them
before and after, as the user accepted it. When a fix is applied (or the user's own edit
makes a finding go away), the whole lines the edit touched are stored before and after,
keyed by the finding's kind (its diagnostic code). ``rules.promotion`` reads them back by
kind once there are enough of one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from ..core.findings import Edit
from .schema import FixExampleRow

if TYPE_CHECKING:
    from .store import Store

MAX_LINES = 40  # an example is a few lines of code, not a file
KEPT_PER_KIND = 20


@dataclass(frozen=True)
class Example:
    language: str
    kind: str
    path: str
    before: str
    after: str
    how: str = "accepted"


def example_of(lines: list[str], edits: list[Edit]) -> tuple[str, str] | None:
    """(before, after) of the whole lines ``edits`` touch (their positions are 0-based);
    None when there is nothing to learn (no edit, an edit outside the text, a change of
    nothing, or more than MAX_LINES lines)."""
    if not edits:
        return None
    first = min(e.start_line for e in edits)
    last = max(e.end_line for e in edits)
    if first < 0 or last >= len(lines) or last - first + 1 > MAX_LINES:
        return None
    before_lines = lines[first : last + 1]
    text = "\n".join(before_lines) + "\n"
    offsets = [0]
    for line in before_lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def at(line: int, col: int) -> int:
        return offsets[line - first] + min(col, len(before_lines[line - first]))

    after = text  # applied from the last edit back, so earlier offsets stay valid
    for e in sorted(edits, key=lambda e: (e.start_line, e.start_col), reverse=True):
        after = (
            after[: at(e.start_line, e.start_col)] + e.new_text + after[at(e.end_line, e.end_col) :]
        )
    return _dedented(text, after) if after != text else None


def _dedented(before: str, after: str) -> tuple[str, str]:
    """Both texts without the first line's indentation (cut from every line that has it):
    lines cut out of a function body parse on their own only at the left margin
    (``    if k in d.keys():`` is an error, ``if k in d.keys():`` a statement), and a rule
    is learned from the trees."""
    first = next((line for line in before.splitlines() if line.strip()), "")
    prefix = first[: len(first) - len(first.lstrip(" \t"))]
    if not prefix:
        return before, after

    def cut(text: str) -> str:
        return "".join(
            line[len(prefix) :] if line.startswith(prefix) else line
            for line in text.splitlines(keepends=True)
        )

    return cut(before), cut(after)


def hand_edits(before: list[str], after: list[str], start_line: int, end_line: int) -> list[Edit]:
    """The user's own edit of a finding's lines (1-based ``start_line``..``end_line`` of
    ``before``) as edits on ``before``: the changed line blocks between the two versions
    that touch those lines (a finding fixed by hand is learned from like an applied fix)."""
    import difflib

    first, last = start_line - 1, end_line  # 0-based, end exclusive
    edits: list[Edit] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or i2 < first or i1 > last or (i1 == i2 and not first <= i1 <= last):
            continue
        new = after[j1:j2]
        if i2 > i1:  # whole lines i1..i2-1 replaced (or deleted)
            edits.append(Edit(i1, 0, i2 - 1, len(before[i2 - 1]), "\n".join(new)))
        elif i1 < len(before):  # lines inserted before line i1
            edits.append(Edit(i1, 0, i1, 0, "".join(f"{line}\n" for line in new)))
    return edits


def _digest(kind: str, before: str, after: str) -> str:
    return hashlib.sha256(f"{kind}\x1f{before}\x1f{after}".encode()).hexdigest()


def record(store: Store, repository: str, example: Example) -> bool:
    """Keep one example (once: the same fix twice is one example); True when new."""
    digest = _digest(example.kind, example.before, example.after)
    with store.sessions.begin() as s:
        if s.scalar(
            select(FixExampleRow.id).where(
                FixExampleRow.repository == repository, FixExampleRow.digest == digest
            )
        ):
            return False
        s.add(
            FixExampleRow(
                repository=repository,
                language=example.language,
                kind=example.kind,
                path=example.path,
                how=example.how,
                before=example.before,
                after=example.after,
                digest=digest,
            )
        )
        kept = select(FixExampleRow.id).where(
            FixExampleRow.repository == repository, FixExampleRow.kind == example.kind
        )
        if (s.scalar(select(func.count()).select_from(kept.subquery())) or 0) > KEPT_PER_KIND:
            oldest = s.scalar(kept.order_by(FixExampleRow.id).limit(1))
            s.execute(delete(FixExampleRow).where(FixExampleRow.id == oldest))
    return True


def by_kind(
    store: Store, repository: str, at_least: int = 3
) -> dict[tuple[str, str], list[Example]]:
    """Examples grouped by (language, kind), only the groups with ``at_least`` of them."""
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    with store.readers() as s:
        rows = s.scalars(
            select(FixExampleRow)
            .where(FixExampleRow.repository == repository)
            .order_by(FixExampleRow.id)
        )
        for r in rows:
            groups[(r.language, r.kind)].append(
                Example(r.language, r.kind, r.path, r.before, r.after, r.how)
            )
    return {k: v for k, v in groups.items() if len(v) >= at_least}

"""Changed-lines review: a large definition that changed in a few lines is re-reviewed
around those lines only, and keeps the findings of the rest.

Replaying real commits, most of a save's tokens went to definitions that changed in one or
two lines (an annotation added to a signature, a guard inserted in a 60-line method): the
whole definition went back to the model each time. When the definition's previous version
is known and was reviewed (its findings are in the unit review cache), only a *window* is
shown: the changed lines, ``CONTEXT`` lines either side, and the definition's signature (its
first line, below its decorators); the lines between are elided (``⋮``). The previous
findings on lines outside the window that did not change are *carried*: moved to where
those lines are now, with their words, fixes and learnings, so the definition's findings
are those of the window plus those.

Everything here works on the unit's line indices (positions in ``Unit.lines``), the same
coordinates the review cache stores (``review.to_cache``), so it needs no parser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

CONTEXT = 3
"""Unchanged lines shown either side of a changed one: enough for the statement around it."""

MIN_LINES = 12
"""A definition shorter than this is reviewed whole: a window would save little."""

MAX_SHARE = 0.6
"""A window covering more of the definition than this: the definition is reviewed whole."""


@dataclass(frozen=True)
class Window:
    """What a changed definition shows, and how its previous lines map onto it."""

    shown: frozenset[int]  # indices into the new unit's lines
    moved: dict[int, int]  # old index -> new index, for lines that did not change


def line_digests(lines: Sequence[str]) -> list[str]:
    """What the review cache keeps of a unit's lines: a short digest of each, enough to
    tell which lines changed, never the code itself (a team's shared database holds no
    source, and no secret a line may carry)."""
    return [
        hashlib.blake2b(line.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
        for line in lines
    ]


def changed_window(
    old: Sequence[str], new: Sequence[str], new_lines: Sequence[str]
) -> Window | None:
    """The window of a definition against its previous version, by the digests of their
    lines (``line_digests``: ``old``, ``new``; ``new_lines``, the new text, says where the
    signature is), or None when the definition should be reviewed whole: too short,
    unchanged in its text (what changed is its context), or changed in too much of it."""
    if len(new) < MIN_LINES or list(old) == list(new):
        return None
    moved: dict[int, int] = {}
    touched: set[int] = set()
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            moved.update((i1 + k, j1 + k) for k in range(i2 - i1))
        elif j2 > j1:
            touched.update(range(j1, j2))
        else:  # lines deleted: what is around the gap changed meaning
            touched.update(j for j in (j1 - 1, j1) if 0 <= j < len(new))
    head = 0  # the signature, below its decorators (``@cache``, ``@Component({...})``)
    while head < len(new) - 1 and new_lines[head].lstrip().startswith("@"):
        head += 1
    shown = set(range(head + 1))
    for j in touched:
        shown.update(range(max(0, j - CONTEXT), min(len(new), j + CONTEXT + 1)))
    if len(shown) > MAX_SHARE * len(new):
        return None
    return Window(frozenset(shown), moved)


def carry(entries: list[dict[str, Any]], window: Window) -> list[dict[str, Any]]:
    """The previous version's cached findings (``review.to_cache`` entries) that lie wholly
    on unchanged lines outside the window, with their positions moved to the new lines.
    A finding that touches a changed or shown line is left to the window's review."""
    out = []
    for entry in entries:
        try:
            spans = [(entry["start"], entry["end"])]
            spans += [(e["start"], e["end"]) for e in entry.get("edits") or []]
            moved = [_span(window, start, end) for start, end in spans]
        except (KeyError, TypeError, ValueError, IndexError):
            continue  # a corrupt row: not carried (the window's review stands alone)
        fixed = [m for m in moved if m is not None]
        if len(fixed) != len(moved):
            continue
        copy = dict(entry)
        (copy["start"], copy["end"]), *edits = fixed
        copy["edits"] = [
            {**e, "start": s, "end": t}
            for e, (s, t) in zip(entry.get("edits") or [], edits, strict=True)
        ]
        out.append(copy)
    return out


def _span(window: Window, start: list[int], end: list[int]) -> tuple[list[int], list[int]] | None:
    """A cached span ([index, offset] to [index, offset]) moved to the new lines, or None
    when any line of it changed, moved apart or is shown in the window."""
    first, last = int(start[0]), int(end[0])
    if last < first:
        return None
    news = [window.moved.get(i) for i in range(first, last + 1)]
    if any(j is None for j in news):
        return None
    fixed = [j for j in news if j is not None]
    if fixed[-1] - fixed[0] != last - first or any(j in window.shown for j in fixed):
        return None
    return [fixed[0], int(start[1])], [fixed[-1], int(end[1])]

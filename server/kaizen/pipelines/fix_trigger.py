"""When a fix (or an improvement) is generated: only where it pays.

A fix call carries the same code as the detection that found its issue, so on a save it
doubled the prompt tokens, and findings later dismissed or hidden still got one. Now the
fix generator runs after fingerprints, dismissals and confidence (``run_pipeline``'s
``after_shown``), for:

- findings that will be shown (not suppressed, not hidden by confidence);
- of the units reviewed in this run (a cached unit's findings come with the fix they had);
- that the previous run of this document did not already fix, or ask about in vain: a unit
  re-reviewed because it changed keeps the fixes of its findings that are still there (same
  fingerprint, the lines the edit replaces unchanged), so only new findings cost a call.

The units reviewed in the run are cached after this step, with the fixes they got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.findings import Edit, Finding
from ..core.lru import LRU
from .review import Planned, to_cache

MEMORY_KEPT = 64  # documents whose last fixes are remembered


@dataclass
class Reviewed:
    """A unit the model reviewed in this run and the findings it gave for it."""

    planned: Planned
    findings: list[Finding]


@dataclass(frozen=True)
class Remembered:
    """A fix given before: its edits, where its finding started, and the lines it replaced."""

    start_line: int
    edits: tuple[Edit, ...]
    old: tuple[tuple[str, ...], ...]  # per edit, the document lines it replaced
    title: str | None


class FixMemory:
    """Per document and pipeline, the last run's fixes by fingerprint (None: asked, no fix).
    Bounded: a document not run for a while is asked again, which is only a cost."""

    def __init__(self, kept: int = MEMORY_KEPT) -> None:
        self.kept = kept
        self._runs: LRU[tuple[str, str], dict[str, Remembered | None]] = LRU(kept)

    def recall(self, key: tuple[str, str]) -> dict[str, Remembered | None]:
        return dict(self._runs.get(key) or {})

    def remember(
        self,
        key: tuple[str, str],
        shown: list[Finding],
        lines: list[str],
        asked: set[str],
        before: dict[str, Remembered | None],
    ) -> None:
        now: dict[str, Remembered | None] = {}
        for f in shown:
            if not f.fingerprint:
                continue
            if f.edits:
                old = tuple(tuple(lines[e.start_line : e.end_line + 1]) for e in f.edits)
                now[f.fingerprint] = Remembered(f.start_line, tuple(f.edits), old, f.fix_title)
            elif f.fingerprint in asked or (
                f.fingerprint in before and before[f.fingerprint] is None
            ):
                now[f.fingerprint] = None
        self._runs.put(key, now)


FIXES = FixMemory()


def reuse(finding: Finding, remembered: Remembered, lines: list[str]) -> bool:
    """Give ``finding`` the fix remembered for it, moved with it, when the lines that fix
    replaces are still exactly what they were; False when they are not."""
    delta = finding.start_line - remembered.start_line
    edits = []
    for edit, old in zip(remembered.edits, remembered.old, strict=True):
        first, last = edit.start_line + delta, edit.end_line + delta
        if first < 0 or tuple(lines[first : last + 1]) != old:
            return False
        edits.append(Edit(first, edit.start_col, last, edit.end_col, edit.new_text))
    finding.edits = edits
    finding.fix_title = remembered.title
    return True


def to_fix(
    reviewed: list[Reviewed],
    shown: list[Finding],
    before: dict[str, Remembered | None],
    lines: list[str],
) -> list[tuple[Finding, Planned]]:
    """The shown findings of this run's units that still need a fix call (see the doc)."""
    visible = {id(f) for f in shown}
    out = []
    for r in reviewed:
        for f in r.findings:
            if id(f) not in visible or f.edits or f.origin != "model":
                continue
            if f.fingerprint in before:
                known = before[f.fingerprint]
                if known is None or reuse(f, known, lines):
                    continue
            out.append((f, r.planned))
    return out


def fix_groups(
    items: list[tuple[Finding, Planned]], budget_tokens: int
) -> list[list[tuple[Finding, Planned]]]:
    """Findings grouped by their units in document order, each group's units within
    ``budget_tokens`` (one fix call per group, as detection batches its units)."""
    order = sorted(items, key=lambda item: (item[1].unit.start, item[0].start_line))
    groups: list[list[tuple[Finding, Planned]]] = []
    units: set[int] = set()
    used = 0
    for finding, planned in order:
        fresh = id(planned) not in units
        if groups and fresh and used + planned.tokens > budget_tokens:
            groups.append([])
            units, used = set(), 0
        if not groups:
            groups.append([])
        if fresh:
            units.add(id(planned))
            used += planned.tokens
        groups[-1].append((finding, planned))
    return groups


def cache_reviewed(scope: Any, reviewed: list[Reviewed], failed: set[int]) -> None:
    """The reviewed units go to the review cache with their findings (fixes included),
    except those whose fix call failed: the next run asks again."""
    for r in reviewed:
        if id(r.planned) not in failed:
            scope.cache(r.planned.hash, to_cache(r.planned.unit, r.findings), r.planned.version)

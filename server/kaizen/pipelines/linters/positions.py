"""Positions in a document's text, as linters count them and as Kaizen does.

Linters speak byte offsets (oxlint) or whole fixed texts (oxlint ``--fix``); Kaizen's
findings and edits speak 0-based lines and code-point columns. Everything here converts
one into the other against the document's own text.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from ...core.findings import Edit, line_offsets


@dataclass
class TextIndex:
    """Offsets of one text: code points <-> (line, column), bytes -> code points."""

    text: str

    def __post_init__(self) -> None:
        self.starts = line_offsets(self.text)
        self._byte_starts: list[int] | None = None  # per line, built on first use
        self.ascii = self.text.isascii()

    def position(self, offset: int) -> tuple[int, int]:
        """A code-point offset as a 0-based (line, column)."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]

    def char_offset(self, byte_offset: int) -> int:
        """A UTF-8 byte offset as a code-point offset (a cut character counts whole):
        found by line, so hundreds of findings do not each decode the whole text."""
        if self.ascii:
            return min(max(byte_offset, 0), len(self.text))
        if self._byte_starts is None:
            self._byte_starts = [0]
            for n in range(len(self.starts)):
                end = self.starts[n + 1] if n + 1 < len(self.starts) else len(self.text)
                piece = self.text[self.starts[n] : end]
                self._byte_starts.append(self._byte_starts[-1] + len(piece.encode("utf-8")))
        byte_offset = min(max(byte_offset, 0), self._byte_starts[-1])
        line = min(bisect.bisect_right(self._byte_starts, byte_offset) - 1, len(self.starts) - 1)
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        head = self.text[self.starts[line] : end].encode("utf-8")[
            : byte_offset - self._byte_starts[line]
        ]
        return self.starts[line] + len(head.decode("utf-8", errors="ignore"))


RESYNC_WINDOW = 64  # lines a single fix may add or remove before the texts agree again


def edits_between(old: str, new: str) -> list[tuple[int, int, str]] | None:
    """The changes that turn ``old`` into ``new``, as (start, end, replacement) in code
    points of ``old``: changed runs of lines, each trimmed to the characters that differ,
    so a fix that changes ``==`` touches ``==`` and not its line.

    A linter's fixes are small and local, so the texts are walked side by side and, where
    they part, re-joined at the nearest pair of agreeing lines (two in a row, so a repeated
    line does not fool it): linear in the text, where ``difflib`` takes seconds on a file
    of many similar functions. None when the texts do not re-join within
    ``RESYNC_WINDOW`` lines (no fix is then better than a wrong one)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    starts = [0]
    for piece in a:
        starts.append(starts[-1] + len(piece))
    changes: list[tuple[int, int, str]] = []
    i = j = 0
    while i < len(a) or j < len(b):
        if i < len(a) and j < len(b) and a[i] == b[j]:
            i, j = i + 1, j + 1
            continue
        step = _resync(a, b, i, j)
        if step is None:
            return None
        di, dj = step
        start, end = starts[i], starts[i + di]
        before, after = old[start:end], "".join(b[j : j + dj])
        head = _common_prefix(before, after)
        tail = _common_prefix(before[head:][::-1], after[head:][::-1])
        changes.append((start + head, end - tail, after[head : len(after) - tail]))
        i, j = i + di, j + dj
    return changes


def _resync(a: list[str], b: list[str], i: int, j: int) -> tuple[int, int] | None:
    """The fewest lines (of ``a`` from ``i``, of ``b`` from ``j``) to skip before both
    agree again: on two lines in a row, or at both ends."""
    for total in range(1, 2 * RESYNC_WINDOW + 1):
        for di in range(max(0, total - RESYNC_WINDOW), min(total, RESYNC_WINDOW) + 1):
            ii, jj = i + di, j + total - di
            if ii > len(a) or jj > len(b):
                continue
            if ii == len(a) and jj == len(b):
                return di, total - di
            if _agree(a, b, ii, jj):
                return di, total - di
    return None


def _agree(a: list[str], b: list[str], i: int, j: int) -> bool:
    if i >= len(a) or j >= len(b) or a[i] != b[j]:
        return False
    return i + 1 >= len(a) or j + 1 >= len(b) or a[i + 1] == b[j + 1]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def to_edit(index: TextIndex, start: int, end: int, replacement: str) -> Edit:
    (start_line, start_col), (end_line, end_col) = index.position(start), index.position(end)
    return Edit(start_line, start_col, end_line, end_col, replacement)

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
        self._bytes: bytes | None = None

    def position(self, offset: int) -> tuple[int, int]:
        """A code-point offset as a 0-based (line, column)."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]

    def char_offset(self, byte_offset: int) -> int:
        """A UTF-8 byte offset as a code-point offset (a cut character counts whole)."""
        if self._bytes is None:
            self._bytes = self.text.encode("utf-8")
        head = self._bytes[: max(byte_offset, 0)]
        return len(head.decode("utf-8", errors="ignore"))


def edits_between(old: str, new: str) -> list[tuple[int, int, str]]:
    """The changes that turn ``old`` into ``new``, as (start, end, replacement) in code
    points of ``old``: changed runs of lines, each trimmed to the characters that differ,
    so a fix that changes ``==`` touches ``==`` and not its line."""
    import difflib

    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    old_starts = [0]
    for piece in old_lines:
        old_starts.append(old_starts[-1] + len(piece))
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    changes: list[tuple[int, int, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = old_starts[i1], old_starts[i2]
        before, after = old[start:end], "".join(new_lines[j1:j2])
        head = _common_prefix(before, after)
        tail = _common_prefix(before[head:][::-1], after[head:][::-1])
        changes.append((start + head, end - tail, after[head : len(after) - tail]))
    return changes


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def to_edit(index: TextIndex, start: int, end: int, replacement: str) -> Edit:
    (start_line, start_col), (end_line, end_col) = index.position(start), index.position(end)
    return Edit(start_line, start_col, end_line, end_col, replacement)

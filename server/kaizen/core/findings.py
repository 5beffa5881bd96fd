"""Findings: what a run reports, validated against the document it was made for.

Everything a model says is untrusted. Line numbers are checked against the document (out of
range: dropped; ranges clamped), edits must stay inside the document and must not overlap,
and each finding gets a fingerprint that survives edits elsewhere in the file (it hashes the
flagged code, not its line numbers) so outcomes can be matched across runs.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info", "hint"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info", "hint")


@dataclass(frozen=True)
class Edit:
    """Replace text between two positions (0-based lines, columns in code points)."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int
    new_text: str


@dataclass
class Finding:
    pipeline: str
    category: str
    severity: Severity
    start_line: int  # 1-based, inclusive
    end_line: int
    message: str
    rationale: str = ""
    code: str = ""  # diagnostic code: category for model issues, rule id for static ones
    code_url: str | None = None
    origin: str = "model"  # model | ruff
    model: str | None = None
    start_col: int | None = None  # code points, 0-based; None: first non-blank
    end_col: int | None = None  # None: end of the line
    edits: list[Edit] = field(default_factory=list)
    fix_title: str | None = None
    fingerprint: str = ""
    # the fingerprint without its scope: what a finding was called before every finding
    # was qualified by its scope, so dismissals recorded then still hide it
    unscoped: str = ""
    learnings: list[int] = field(default_factory=list)
    learnings_used: bool = False
    title: str | None = None  # refactor opportunities: a short name
    suppressed: str | None = None  # why it is not shown: the user's dismissal (and reason)
    suppressed_by: str | None = None  # the fingerprint of the dismissal that hid it
    confidence: float | None = None  # learned from outcomes (memory.confidence)
    confidence_why: str = ""  # e.g. "accepted 7 of 9 times here"

    @property
    def has_fix(self) -> bool:
        return bool(self.edits)


_WS = re.compile(r"\s+")


def fingerprint(pipeline: str, code: str, lines: list[str], start: int, end: int) -> str:
    """Stable identity: pipeline + code + the flagged source text, whitespace-normalised."""
    flagged = " ".join(_WS.sub(" ", lines[i]).strip() for i in range(start - 1, end))
    digest = hashlib.sha256(f"{pipeline}\x1f{code}\x1f{flagged}".encode()).hexdigest()
    return digest[:24]


def assign_fingerprints(
    findings: list[Finding],
    lines: list[str],
    scope_of: Callable[[Finding], str] | None = None,
) -> None:
    """Fingerprint each finding so it keeps its identity across runs.

    The flagged text alone is not an identity: ``return None`` in ten functions would share
    one. So each fingerprint is qualified by the finding's scope (``scope_of``: the name of
    its enclosing unit), and only what is still identical within one scope gets an
    occurrence suffix, in document order. Always qualified, never only when a duplicate
    exists: a finding's identity must not depend on the rest of the file (deleting another
    function's ``return None`` renamed this one's, and its cached finding looked new).
    ``unscoped`` keeps the plain fingerprint, which dismissals recorded before matched.
    """
    seen: dict[str, int] = {}
    order = sorted(
        range(len(findings)),
        key=lambda i: (findings[i].start_line, findings[i].start_col or 0, findings[i].code),
    )
    for i in order:
        f = findings[i]
        base = fingerprint(f.pipeline, f.code or f.category, lines, f.start_line, f.end_line)
        f.unscoped = base
        if scope_of is not None and (scope := scope_of(f)):
            base = hashlib.sha256(f"{base}\x1f{scope}".encode()).hexdigest()[:24]
        n = seen.get(base, 0)
        seen[base] = n + 1
        f.fingerprint = base if n == 0 else f"{base}-{n}"


_EOL = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines without their endings; only CRLF, CR and LF end a line (as in LSP).

    ``str.splitlines`` would also split on form feeds and U+2028, which editors do not.
    """
    return _EOL.split(text)


def line_ending(text: str) -> str:
    """The document's line ending: the first one it uses, LF for a one-line document."""
    m = _EOL.search(text)
    return m.group(0) if m else "\n"


def line_offsets(text: str) -> list[int]:
    """Offset of the start of every line, in code points, with the same line rules."""
    return [0, *(m.end() for m in _EOL.finditer(text))]


def clamp_finding(f: Finding, lines: list[str]) -> Finding | None:
    """Fit a model's line range to the document, or None when it lies outside it."""
    n = len(lines)
    if f.start_line < 1 or f.start_line > n:
        return None
    f.end_line = min(max(f.end_line, f.start_line), n)
    if f.start_col is not None:
        f.start_col = min(max(f.start_col, 0), len(lines[f.start_line - 1]))
    if f.end_col is not None:
        f.end_col = min(max(f.end_col, 0), len(lines[f.end_line - 1]))
        if f.end_line == f.start_line and f.start_col is not None and f.end_col < f.start_col:
            f.end_col = None
    return f


def locate_snippet(f: Finding, lines: list[str], snippet: str | None) -> None:
    """Narrow a line-range finding to the snippet the model quoted, when it is really there."""
    if not snippet or not snippet.strip():
        return
    needle = snippet.strip().splitlines()[0].strip()
    for line_no in range(f.start_line, f.end_line + 1):
        col = lines[line_no - 1].find(needle)
        if col >= 0 and needle:
            f.start_line = f.end_line = line_no
            f.start_col, f.end_col = col, col + len(needle)
            return


def edit_is_valid(edit: Edit, lines: list[str]) -> bool:
    """Inside the document, start before end."""
    n = len(lines)
    if not (0 <= edit.start_line <= n and 0 <= edit.end_line <= n):
        return False
    if (edit.start_line, edit.start_col) > (edit.end_line, edit.end_col):
        return False
    for line, col in ((edit.start_line, edit.start_col), (edit.end_line, edit.end_col)):
        limit = len(lines[line]) if line < n else 0
        if col < 0 or col > limit:
            return False
    return True


def touches_redacted(edit: Edit, redacted: set[int]) -> bool:
    """True when an edit covers a line whose secret was redacted from the prompt: the model
    never saw that line, so its edit there cannot be trusted (and might write the
    placeholder into the code)."""
    last = (
        edit.end_line - 1
        if edit.end_col == 0 and edit.end_line > edit.start_line
        else edit.end_line
    )
    return any(line in redacted for line in range(edit.start_line, last + 1)) or (
        "[REDACTED:" in edit.new_text
    )


def edits_overlap(edits: list[Edit]) -> bool:
    ordered = sorted(edits, key=lambda e: (e.start_line, e.start_col))
    return any(
        (a.end_line, a.end_col) > (b.start_line, b.start_col)
        for a, b in itertools.pairwise(ordered)
    )


def line_replacement(
    lines: list[str], start_line: int, end_line: int, text: str, eol: str = "\n"
) -> Edit:
    """An edit replacing whole lines ``start_line..end_line`` (1-based) with ``text``.

    The edit ends at the start of the next line so the line break is kept exactly once; on
    the last line (no next line) it ends at the end of that line instead. Line breaks in
    ``text`` become the document's own (``eol``), so a CRLF file stays CRLF.
    """
    text = eol.join(split_lines(text))
    body = text if text.endswith(eol) or not text else text + eol
    if end_line < len(lines):
        return Edit(start_line - 1, 0, end_line, 0, body)
    return Edit(start_line - 1, 0, end_line - 1, len(lines[end_line - 1]), body.removesuffix(eol))


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits to ``text`` (used by `kaizen check --fix` and tests)."""
    starts = line_offsets(text)

    def offset(line: int, col: int) -> int:
        return len(text) if line >= len(starts) else min(starts[line] + col, len(text))

    out = text
    for e in sorted(edits, key=lambda e: (e.start_line, e.start_col), reverse=True):
        out = (
            out[: offset(e.start_line, e.start_col)]
            + e.new_text
            + out[offset(e.end_line, e.end_col) :]
        )
    return out

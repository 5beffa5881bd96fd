"""Fix verification: nothing Kaizen offers to apply may leave code that no longer parses.

A model's fix is untrusted text. Grounding (``grounding``) checks that a finding points at
real code; this module checks that its fix is safe to apply. A fix is offered only when

- every edit lies inside the document, the edits do not overlap, and none touches a line
  whose secret was redacted from the prompt;
- every line it touches belongs to the finding's review unit (``languages.units``) or is
  blank: a fix for one function may not rewrite its neighbour;
- it changes something, and an empty replacement of non-blank code (a deletion) is offered
  only when the model marked it as one (``delete`` in the answer): a model that answers
  ``""`` by mistake would otherwise delete the line it was asked to fix;
- the document still parses wherever it parsed before: Python through ``compile`` (the
  parser and the compiler's own checks, e.g. ``return`` outside a function), TypeScript and
  JavaScript through tree-sitter. A document that already had syntax errors may keep them,
  but the fix may not add one (its error count must not grow);
- the linters of the static pre-pass report nothing on the fixed text that they did not
  report before (``new_lint_findings``, before/after texts; ruff for Python today).

A fix that fails is dropped with a ``Rejected`` reason (the pipeline counts it against the
model, like an ungrounded finding); its finding stays, without a fix.
"""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from functools import partial

from ..config import StaticPrepass
from ..core.document import Document
from ..core.findings import (
    Edit,
    Finding,
    apply_edits,
    edit_is_valid,
    edits_overlap,
    line_offsets,
    touches_redacted,
)
from ..languages import error_count as languages_error_count
from .linters import Complaints, linters_for, run_linter

Linter = Callable[[Document], Awaitable[list[Finding]]]
_COMPLAINTS = Complaints()


Lint = bool | StaticPrepass
"""Whether fix verification runs the pre-pass linters: the run's pre-pass settings (the
linters run as the pre-pass does, with its configured binaries), True for the defaults,
False for none."""


def pre_pass(settings: StaticPrepass) -> Lint:
    """What a run's fixes are linted with: its own pre-pass settings, or nothing when the
    pre-pass is off."""
    return settings if settings.enabled else False


def linters_of(language: str, settings: StaticPrepass | None = None) -> tuple[Linter, ...]:
    """The pre-pass linters a fix must not upset: the language's entry in the static
    pre-pass's linter table (ruff, oxlint, shellcheck), with ``settings``' binary paths
    (the defaults when None)."""
    settings = settings if settings is not None else StaticPrepass()
    return tuple(
        partial(run_linter, name, settings=settings, complaints=_COMPLAINTS)
        for name in linters_for(language)
    )

LINTS_IN_FLIGHT = 4


@dataclass(frozen=True)
class Rejected:
    """Why a fix is not offered: ``kind`` (fix-range | fix-overlap | fix-outside-unit |
    fix-redacted | fix-noop | fix-deletion | fix-syntax | fix-lint) and the detail."""

    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


@dataclass
class Proposed:
    """A fix as the model gave it, turned into edits, waiting for its verdict."""

    finding: Finding
    edits: list[Edit]
    title: str
    delete: bool = False  # the model said it means to delete code
    unit_lines: Collection[int] | None = None  # 1-based lines it may touch; None: any


# syntax ------------------------------------------------------------------------------------

def python_error(text: str) -> str | None:
    """Why ``text`` does not compile as Python, or None when it does."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc.: the user's, not ours
            compile(text, "<fix>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def error_count(language: str, text: str) -> int | None:
    """How many syntax errors ``text`` has (0: it parses); None: no grammar for ``language``.

    Python: 0 when it compiles (``compile`` is the authority), else tree-sitter's count (at
    least 1). Other languages: tree-sitter's ERROR and MISSING nodes, with the language
    table's grammar (``kaizen.languages``)."""
    if language == "python":
        if python_error(text) is None:
            return 0
        return max(1, languages_error_count("python", text) or 0)
    return languages_error_count(language, text)


def syntax_ok(language: str, text: str) -> bool | None:
    """True: ``text`` parses with no ERROR/MISSING node; False: it has errors; None: no
    grammar for ``language``."""
    count = error_count(language, text)
    return None if count is None else count == 0


# the checks --------------------------------------------------------------------------------


def touched_lines(edit: Edit) -> range:
    """0-based lines an edit changes (an end at column 0 of the next line does not touch
    that line)."""
    last = (
        edit.end_line - 1
        if edit.end_col == 0 and edit.end_line > edit.start_line
        else edit.end_line
    )
    return range(edit.start_line, last + 1)


def _replaced(text: str, edit: Edit) -> str:
    starts = line_offsets(text)

    def offset(line: int, col: int) -> int:
        return len(text) if line >= len(starts) else min(starts[line] + col, len(text))

    return text[offset(edit.start_line, edit.start_col) : offset(edit.end_line, edit.end_col)]


def is_deletion(text: str, edits: Sequence[Edit]) -> bool:
    """The edits remove code and write nothing but whitespace in its place."""
    return (
        bool(edits)
        and all(not e.new_text.strip() for e in edits)
        and any(_replaced(text, e).strip() for e in edits)
    )


def deletion_span(edits: Sequence[Edit]) -> str:
    """``line 4`` or ``lines 4-6`` (1-based): what a deletion removes, for its title."""
    lines = sorted({n + 1 for e in edits for n in touched_lines(e)})
    if not lines:
        return "code"
    return f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"


def check_edits(
    doc: Document,
    edits: list[Edit],
    *,
    delete: bool = False,
    unit_lines: Collection[int] | None = None,
) -> Rejected | None:
    """Every check but the linters' (pure, CPU only); None when the edits may be offered."""
    if not edits:
        return Rejected("fix-noop", "no edit")
    lines = doc.lines
    for e in edits:
        if not edit_is_valid(e, lines):
            return Rejected("fix-range", f"edit at line {e.start_line + 1} is outside the code")
    if edits_overlap(edits):
        return Rejected("fix-overlap", "its edits overlap each other")
    if any(touches_redacted(e, doc.redacted) for e in edits):
        return Rejected("fix-redacted", "it touches a line the model never saw (a secret)")
    if unit_lines is not None:
        allowed = set(unit_lines)
        outside = [
            n + 1
            for e in edits
            for n in touched_lines(e)
            if n + 1 not in allowed and n < len(lines) and lines[n].strip()
        ]
        if outside:
            return Rejected("fix-outside-unit", f"it changes line {outside[0]}, outside its unit")
    after = apply_edits(doc.text, edits)
    if _squeeze(after) == _squeeze(doc.text):
        return Rejected("fix-noop", "it changes nothing but trailing whitespace")
    if is_deletion(doc.text, edits) and not delete:
        return Rejected(
            "fix-deletion",
            f"an empty replacement deletes {deletion_span(edits)} and is not marked as a deletion",
        )
    return syntax_problem(doc.language, doc.text, after)


def _squeeze(text: str) -> str:
    """The text without trailing blanks and blank lines: what a no-op fix changes (leading
    indentation is kept: in Python it is meaning)."""
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def syntax_problem(language: str, before: str, after: str) -> Rejected | None:
    """A fix must not add a syntax error: where ``before`` parsed, ``after`` must parse;
    where it did not, ``after`` may not have more errors."""
    was = error_count(language, before)
    if was is None:
        return None  # no parser for this language: nothing to compare
    now = error_count(language, after)
    if now is None or now <= was:
        return None
    if language == "python" and (why := python_error(after)) is not None and was == 0:
        return Rejected("fix-syntax", f"the fixed code does not parse ({why})")
    return Rejected("fix-syntax", f"the fixed code has {now} syntax error(s), {was} before")


def _lint_key(f: Finding) -> tuple[str, str, str]:
    # positions are left out: an edit above a finding moves it without changing it
    return (f.origin, f.code, f.message)


async def new_lint_findings(
    doc: Document,
    before: str,
    after: str,
    linters: Sequence[Linter] | None = None,
    before_found: list[Finding] | None = None,
) -> list[Finding]:
    """What the linters report on ``after`` that they did not on ``before`` (the same
    document, the same path, so the project's own linter configuration applies).
    ``before_found``: the linters' findings on ``before``, when already known."""
    use = linters_of(doc.language) if linters is None else linters
    if not use:
        return []
    if before_found is None:
        before_found = await _lint(replace(doc, text=before), use)
    found_after = await _lint(replace(doc, text=after), use)
    old = Counter(_lint_key(f) for f in before_found)
    added: list[Finding] = []
    for f in found_after:
        key = _lint_key(f)
        if old[key] > 0:
            old[key] -= 1
        else:
            added.append(f)
    return added


async def _lint(doc: Document, linters: Sequence[Linter]) -> list[Finding]:
    return [f for linter in linters for f in await linter(doc)]


async def verify(
    doc: Document, proposals: list[Proposed], lint: Lint = True
) -> list[Rejected | None]:
    """Each proposal's verdict (None: offer it), in order. The syntax checks run on a worker
    thread; the linters (subprocesses) a few at a time, and only for fixes that passed the
    rest, against one lint of the document as it is."""
    verdicts = await asyncio.to_thread(
        lambda: [
            check_edits(doc, p.edits, delete=p.delete, unit_lines=p.unit_lines) for p in proposals
        ]
    )
    settings = lint if isinstance(lint, StaticPrepass) else None
    linters = linters_of(doc.language, settings) if lint else ()
    passed = [i for i, v in enumerate(verdicts) if v is None]
    if not linters or not passed:
        return verdicts
    before_found = await _lint(doc, linters)
    gate = asyncio.Semaphore(LINTS_IN_FLIGHT)

    async def one(i: int) -> None:
        after = apply_edits(doc.text, proposals[i].edits)
        async with gate:
            added = await new_lint_findings(doc, doc.text, after, linters, before_found)
        if added:
            first = added[0]
            verdicts[i] = Rejected(
                "fix-lint",
                f"it adds {first.code} at line {first.start_line} ({first.message[:80]})"
                + (f" and {len(added) - 1} more" if len(added) > 1 else ""),
            )

    await asyncio.gather(*(one(i) for i in passed))
    return verdicts

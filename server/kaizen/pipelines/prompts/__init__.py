"""The four prompts, as Markdown templates, and their typed answers.

Templates use ``string.Template`` (``$name``) so braces and dollar signs inside the user's
code are never interpreted: values are substituted, never re-parsed.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from string import Template

from pydantic import BaseModel

from ...core.answers import (
    CATEGORIES,
    FixItem,
    FixReport,
    Improvement,
    IssueItem,
    IssueReport,
    OpportunityItem,
    OpportunityReport,
)
from ...core.tasks import TASKS

__all__ = [
    "ANSWERS",
    "CATEGORIES",
    "PROMPT_VERSION",
    "FixItem",
    "FixReport",
    "Improvement",
    "IssueItem",
    "IssueReport",
    "OpportunityItem",
    "OpportunityReport",
    "numbered",
    "numbered_lines",
    "render",
    "template",
]



@cache
def template(name: str) -> Template:
    return Template(files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    return template(name).safe_substitute({k: str(v) for k, v in values.items()})


MAX_LINE_CHARS = 1000


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]} … [{len(line) - MAX_LINE_CHARS} more characters]"


PROMPT_VERSION = "2"
"""Bump when a prompt's meaning changes: it is part of every unit's cache key."""


def numbered_lines(lines: list[str], numbers: list[int]) -> str:
    """Only the lines ``numbers`` (1-based, ascending) with their document line numbers; a
    gap between them is shown as ``⋮`` so the model knows code is left out there."""
    width = len(str(len(lines)))
    out: list[str] = []
    previous: int | None = None
    for n in numbers:
        if previous is not None and n != previous + 1:
            out.append(f"{'':>{width}} ⋮")
        out.append(f"{n:>{width}} | {_clip(lines[n - 1])}")
        previous = n
    return "\n".join(out)


def numbered(lines: list[str]) -> str:
    """The code with 1-based line numbers, the coordinates every answer refers to.

    Very long lines (minified code, embedded data) are clipped so one line cannot eat the
    context window; the numbering stays exact.
    """
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {_clip(line)}" for i, line in enumerate(lines, 1))


ANSWERS: dict[str, type[BaseModel]] = {name: t.answer for name, t in TASKS.items()}
"""Each task's answer type (a view of ``core.tasks.TASKS``; generated regression tests
import it under this name)."""

"""The four prompts, as Markdown templates, and their typed answers.

Templates use ``string.Template`` (``$name``) so braces and dollar signs inside the user's
code are never interpreted: values are substituted, never re-parsed.
"""

from __future__ import annotations

import json
import re
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
    "placeholders",
    "render",
    "template",
]



@cache
def template(name: str) -> Template:
    return Template(files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    # ``$rules`` (the team's rules, rules/) is empty unless a run has some
    return template(name).safe_substitute({"rules": "", **{k: str(v) for k, v in values.items()}})


MAX_LINE_CHARS = 1000


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]} … [{len(line) - MAX_LINE_CHARS} more characters]"


PROMPT_VERSION = "3"
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


_EXAMPLE = re.compile(r"^\{.*\}$", re.M)


@cache
def placeholders() -> frozenset[str]:
    """The example strings of every template's answer shape ("one sentence", "short
    title", ...). A model that copies them back (the bundled tiny model does) has said
    nothing: such a finding must never become a learning."""
    out: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, str) and " " in node:  # not the enum values ("bug", "error")
            out.add(node.strip().lower())
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in TASKS:
        for example in _EXAMPLE.findall(template(name).template):
            try:
                walk(json.loads(example))
            except json.JSONDecodeError:
                continue
    return frozenset(out)


def is_placeholder(*texts: str | None) -> bool:
    """True when any of ``texts`` is one of the templates' example strings."""
    known = placeholders()
    return any(t is not None and t.strip().lower() in known for t in texts)

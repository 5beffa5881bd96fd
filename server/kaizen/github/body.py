"""The text of a Kaizen pull request: its Markdown body and its branch name.

The rationale and learnings come from a model and earlier runs, so they are untrusted text:
``@someone`` would notify people and "fixes #12" would close an issue when the PR merges.
Both are defused here (a zero-width space breaks the link without changing how it reads).
"""

from __future__ import annotations

import re

_ZWSP = "\u200b"
_MENTION = re.compile(r"(?<![\w.@/])@(?=[A-Za-z0-9])")
_CLOSING = re.compile(
    r"\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(:?\s+)(?=[\w./-]*#\d)", re.IGNORECASE
)
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_SLUG_MAX = 40


def _defuse(text: str) -> str:
    text = _MENTION.sub("@" + _ZWSP, text)
    return _CLOSING.sub(lambda m: m[1] + _ZWSP + m[2], text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _code(text: str) -> str:
    """``text`` as a Markdown code span, safe even if it contains backticks."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_pr_body(
    rationale: str, learnings: list[str], files: list[str], model: str | None
) -> str:
    """Markdown for the pull request: why, which learnings led here, what changed, who opened it."""
    parts = ["## Why", "", _defuse(rationale.strip()) or "_No rationale was given._", ""]
    kept = [_one_line(item) for item in learnings if item.strip()]
    if kept:
        parts += ["## Learnings that led to this", ""]
        parts += [f"- {_defuse(item)}" for item in kept]
        parts.append("")
    parts += ["## Changed files", ""]
    parts += [f"- {_code(path)}" for path in files] or ["_None._"]
    parts += ["", "---"]
    footer = "Opened by Kaizen"
    if model:
        footer += f" with {_code(_one_line(model))}"
    parts.append(f"{footer}.")
    return "\n".join(parts) + "\n"


def branch_name_for(title: str, fingerprint: str) -> str:
    """A git-ref-safe branch for a change: ``kaizen/refactor-<slug>-<fp[:8]>``.

    Only ``[a-z0-9-]`` survive in the variable parts, so the name can never contain the
    sequences git refuses (``..``, ``@{``, a trailing ``.lock``, spaces, control characters).
    """
    slug = _SLUG_JUNK.sub("-", title.lower()).strip("-")[:_SLUG_MAX].rstrip("-") or "change"
    short = _SLUG_JUNK.sub("", fingerprint.lower())[:8]
    return f"kaizen/refactor-{slug}-{short}" if short else f"kaizen/refactor-{slug}"

"""Markdown with YAML front matter, one rule or several per file, read forgivingly.

A rule file is a sequence of blocks: a ``---`` line, YAML, a closing ``---`` line, then the
rule's text up to the next block. A ``---`` line only opens a block at the start of the file
or when the line after it reads like a YAML key (``id: ...``), so a Markdown horizontal rule
inside a rule's text stays text. A block whose YAML does not parse is reported with its file
and line and skipped; the other blocks still count: one typo never switches every rule off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")
_COMMENT = re.compile(r"<!--.*?-->", re.S)  # notes to people, not rules
_FENCE = "---"


@dataclass
class Block:
    """One rule as written: its front matter (empty when it had none), its text, and the
    1-based line where it starts."""

    meta: dict[str, Any]
    text: str
    line: int
    has_meta: bool = False


@dataclass
class Parsed:
    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _opens(lines: list[str], i: int) -> bool:
    if lines[i].rstrip() != _FENCE:
        return False
    if all(not line.strip() for line in lines[:i]):
        return True
    return i + 1 < len(lines) and bool(_KEY.match(lines[i + 1]))


def _yaml(text: str, path: Path, first_line: int) -> tuple[dict[str, Any] | None, str | None]:
    """The mapping, or a problem naming the file and the line (counted in the file)."""
    import yaml

    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = first_line + (mark.line if mark is not None else 0)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, f"{path}:{line}: front matter is not valid YAML ({what}); this rule is skipped"
    if not isinstance(data, dict):
        return (
            None,
            f"{path}:{first_line}: front matter must be a mapping of keys to values; "
            "this rule is skipped",
        )
    return data, None


def parse(text: str, path: Path) -> Parsed:
    """Every block of ``text`` (the file at ``path``, named in problems)."""
    lines = text.splitlines()
    out = Parsed()
    meta: dict[str, Any] = {}
    i, body_start, meta_line, has_meta = 0, 0, 1, False

    def flush(end: int) -> None:
        body = _COMMENT.sub("", "\n".join(lines[body_start:end])).strip()
        if body or has_meta:
            out.blocks.append(Block(meta, body, meta_line, has_meta))

    while i < len(lines):
        if not _opens(lines, i):
            i += 1
            continue
        close = next(
            (j for j in range(i + 1, len(lines)) if lines[j].rstrip() in (_FENCE, "...")), None
        )
        if close is None:
            flush(i)
            out.problems.append(
                f"{path}:{i + 1}: front matter opened here is never closed with '---'; "
                "this rule is skipped"
            )
            return out
        flush(i)
        parsed, problem = _yaml("\n".join(lines[i + 1 : close]), path, i + 2)
        if problem is not None:
            out.problems.append(problem)
            # skip this block's text too: it belongs to the rule that was not read
            nxt = next((k for k in range(close + 1, len(lines)) if _opens(lines, k)), len(lines))
            i = body_start = nxt
            meta, meta_line, has_meta = {}, nxt + 1, False
            continue
        meta, meta_line, has_meta = parsed or {}, i + 1, True
        i = body_start = close + 1
    flush(len(lines))
    return out


def render(meta: dict[str, Any], text: str) -> str:
    """One block as a rule file holds it (the inverse of ``parse`` for one block)."""
    import yaml

    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100).strip()
    return f"{_FENCE}\n{head}\n{_FENCE}\n{text.strip()}\n"

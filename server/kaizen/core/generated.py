"""Files nobody should review: generated code and minified bundles.

A model reviewing a protobuf stub or a 2 MB one-line bundle spends tokens on code no one
edits by hand, and its findings cannot be acted on. A file is skipped (and the user told
once, through ``Document.not_sent_reason``) when it carries its language's generated-file
marker near the top (``Code generated ... DO NOT EDIT.``, ``@generated``; the table's
``generated`` column), when the repository's ``.gitattributes`` marks it
``linguist-generated``, or when it looks minified (long, with very long lines).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pathspec

from .language_table import GENERATED, LanguageEntry

HEAD_CHARS = 2000  # markers are looked for here: generators put them at the top
MINIFIED_MIN_CHARS = 20_000
MINIFIED_LINE_CHARS = 500  # average characters per line above which a file is minified


def why_generated(
    path: Path, text: str, root: Path | None, entry: LanguageEntry | None
) -> str | None:
    """Why ``path`` is not reviewed, or None when it is ordinary source."""
    if len(text) >= MINIFIED_MIN_CHARS:
        lines = text.count("\n") + 1
        if len(text) / lines > MINIFIED_LINE_CHARS:
            # no counts in the message: it is shown once per text, and must not vary per save
            return f"minified: lines over {MINIFIED_LINE_CHARS} characters long, not reviewed"
    head = text[:HEAD_CHARS]
    for pattern in entry.generated if entry is not None else GENERATED:
        if found := re.search(pattern, head):
            return f"generated file ({found.group(0)!r} at its top), not reviewed"
    if root is not None and _linguist_generated(path, root):
        return "marked linguist-generated in .gitattributes, not reviewed"
    return None


def _linguist_generated(path: Path, root: Path) -> bool:
    attributes = root / ".gitattributes"
    try:
        mtime = attributes.stat().st_mtime_ns
        relpath = path.resolve().relative_to(root.resolve()).as_posix()
    except (OSError, ValueError):
        return False
    spec = _generated_spec(attributes, mtime)
    return spec is not None and spec.match_file(relpath)


@lru_cache(maxsize=16)
def _generated_spec(attributes: Path, _mtime: int) -> pathspec.GitIgnoreSpec | None:
    """The patterns ``.gitattributes`` gives ``linguist-generated`` (or ``=true``); a later
    ``-linguist-generated`` or ``=false`` on the same pattern is not honoured separately."""
    try:
        lines = attributes.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    patterns = []
    for line in lines:
        parts = line.split()
        if len(parts) < 2 or parts[0].startswith("#"):
            continue
        if any(a in ("linguist-generated", "linguist-generated=true") for a in parts[1:]):
            patterns.append(parts[0])
    return pathspec.GitIgnoreSpec.from_lines(patterns) if patterns else None

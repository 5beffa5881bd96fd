"""The languages layer's questions about one text, for fix verification and the index."""

from __future__ import annotations

from . import trees
from .syntax import Outline, outline_of
from .table import entry_for


def syntax_ok(language: str, text: str) -> bool | None:
    """True when ``text`` parses without an ERROR or MISSING node, False when it does not,
    None when there is no grammar for ``language`` (the caller decides what that means)."""
    entry = entry_for(language)
    if entry is None:
        return None
    tree = trees.parse(entry, text)
    if tree is None:
        return None
    return not tree.root_node.has_error


def outline(language: str, text: str, document: str = "") -> Outline:
    """The definitions and imports of ``text``; an empty ``Outline`` when ``language`` has
    no grammar or query here. ``document`` (a path or URI) lets the next text of the same
    document be parsed incrementally."""
    entry = entry_for(language)
    found = outline_of(entry, text, document) if entry is not None else None
    return found if found is not None else Outline()

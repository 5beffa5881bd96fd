"""Tree-sitter parses, incremental per document.

The last tree of a few documents is kept: the next text of the same document is described
to tree-sitter as one edit (the bytes between the common prefix and the common suffix of
the two texts, found with C-speed ``bytes`` comparisons) and re-parsed with the old tree, so
a keystroke in a 2,000-line file re-parses what it touched (benchmarks/bench_languages.py).
Unlike the ``ast`` trees parsed.py drops, a tree-sitter tree is one Python object over C
memory: the garbage collector never walks its nodes. Still only ``TREES_KEPT`` are kept
(each holds its source bytes), the documents being edited.
"""

from __future__ import annotations

from typing import Any

from ..core.language_table import LanguageEntry
from ..core.lru import LRU
from . import grammars

TREES_KEPT = 8

_last: LRU[tuple[str, str], tuple[bytes, Any]] = LRU(TREES_KEPT)


def parse(entry: LanguageEntry, text: str, document: str = "") -> Any | None:
    """The tree of ``text`` (None without a grammar); ``document`` (a path or URI) lets
    the next text of that document be parsed incrementally from this one."""
    parser = grammars.parser(entry)
    if parser is None:
        return None
    source = text.encode("utf-8", "surrogatepass")
    key = (document, entry.name)
    old = _last.get(key) if document else None
    if old is not None and old[0] == source:
        return old[1]
    if old is not None:
        tree = old[1].copy()  # another thread may hold the old tree: edit a copy
        tree.edit(**edit_between(old[0], source))
        tree = parser.parse(source, tree)
    else:
        tree = parser.parse(source)
    if document:
        _last.put(key, (source, tree))
    return tree


def forget(document: str) -> None:
    """Drop a closed document's tree."""
    _last.drop(lambda key: key[0] == document)


def _common_prefix(a: bytes, b: bytes) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # the longest prefix on which a and b agree, by halving
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    lo, hi = 0, limit
    la, lb = len(a), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _point(source: bytes, offset: int) -> tuple[int, int]:
    row = source.count(b"\n", 0, offset)
    return row, offset - (source.rfind(b"\n", 0, offset) + 1)


def edit_between(old: bytes, new: bytes) -> dict[str, Any]:
    """``Tree.edit`` arguments turning ``old`` into ``new``: one replaced byte range."""
    start = _common_prefix(old, new)
    suffix = _common_suffix(old, new, min(len(old), len(new)) - start)
    old_end, new_end = len(old) - suffix, len(new) - suffix
    return {
        "start_byte": start,
        "old_end_byte": old_end,
        "new_end_byte": new_end,
        "start_point": _point(old, start),
        "old_end_point": _point(old, old_end),
        "new_end_point": _point(new, new_end),
    }

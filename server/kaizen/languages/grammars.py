"""Grammars and queries of the table's entries, loaded once, on first use.

A grammar wheel that is not installed (or a grammar built for another tree-sitter ABI) is
not an error: the language is reviewed in blocks as before, and the log says so once. The
``tree_sitter`` module itself is imported here only, lazily, so a session that never opens
a file of another language pays nothing for it.
"""

from __future__ import annotations

import importlib
import logging
import threading
from functools import cache
from importlib import resources
from typing import Any

from ..core.language_table import LanguageEntry

log = logging.getLogger(__name__)

_lock = threading.Lock()
_local = threading.local()  # a Parser is not thread-safe: one per thread and language
_reported: set[str] = set()


def _once(key: str, message: str, *args: object) -> None:
    with _lock:
        if key in _reported:
            return
        _reported.add(key)
    log.warning(message, *args)


@cache
def language(entry: LanguageEntry) -> Any | None:
    """The entry's ``tree_sitter.Language``, or None (no grammar, or it cannot load)."""
    if entry.grammar is None:
        return None
    module_name, function = entry.grammar
    try:
        import tree_sitter

        module = importlib.import_module(module_name)
        return tree_sitter.Language(getattr(module, function)())
    except Exception as exc:  # ImportError, a missing function, an incompatible ABI
        _once(
            f"grammar:{entry.name}",
            "Kaizen: no %s grammar (%s: %s); %s files are reviewed in blocks. "
            "Install the %s package to review them by definition.",
            entry.name, module_name, exc, entry.name, module_name.replace("_", "-"),
        )
        return None


@cache
def query(entry: LanguageEntry) -> Any | None:
    """The entry's compiled query file, or None (no grammar, no file, or it does not
    compile against the installed grammar: a grammar wheel renamed a node)."""
    lang = language(entry)
    if lang is None or not entry.queries:
        return None
    try:
        import tree_sitter

        source = resources.files(__package__).joinpath("queries").joinpath(f"{entry.queries}.scm")
        return tree_sitter.Query(lang, source.read_text(encoding="utf-8"))
    except Exception as exc:  # a missing file, a QueryError
        _once(f"query:{entry.name}", "Kaizen: the %s query does not load (%s); "
              "%s files are reviewed in blocks.", entry.name, exc, entry.name)
        return None


def parser(entry: LanguageEntry) -> Any | None:
    """This thread's parser for the entry, or None without a grammar."""
    lang = language(entry)
    if lang is None:
        return None
    parsers: dict[str, Any] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    if (found := parsers.get(entry.name)) is None:
        import tree_sitter

        found = parsers[entry.name] = tree_sitter.Parser(lang)
    return found

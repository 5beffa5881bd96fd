"""The language table as the layers above see it: an entry by name, LSP id or path.

The entries themselves are data in ``core/language_table.py`` (core's ``language_of``
reads the same table to name a document's language); this module adds what needs the
``languages`` layer: whether an entry's grammar and query actually load here.
"""

from __future__ import annotations

from pathlib import Path

from ..core.language_table import ENTRIES, LanguageEntry
from ..core.workspace import language_entry
from . import grammars


def entry_for(language_or_path: str | Path) -> LanguageEntry | None:
    """The entry for a language name (``typescript``), an LSP language id
    (``typescriptreact``) or a file path (``src/app.tsx``); None when the table has none."""
    return language_entry(language_or_path)


def parses(entry: LanguageEntry) -> bool:
    """True when the entry's grammar and query file load (units by definition)."""
    return grammars.query(entry) is not None


def supported() -> list[LanguageEntry]:
    """The entries with a grammar and a query file that load in this installation."""
    return [e for e in ENTRIES if parses(e)]


__all__ = ["ENTRIES", "LanguageEntry", "entry_for", "parses", "supported"]

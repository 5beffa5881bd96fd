"""Code, not models: each language's parsing, review units and context resolution.

A layer below the pipelines (it knows nothing of models or the database): the pipelines ask
it how a text splits into units and what a unit uses; the language table says how.

The public API other layers use (stable signatures):

- ``entry_for(language_or_path)``: the table's ``LanguageEntry`` or None;
- ``syntax_ok(language, text)``: True (no syntax error), False, or None (no grammar);
- ``outline(language, text)``: an ``Outline`` of definitions and imports (empty without
  a grammar).
"""

from __future__ import annotations

from .api import outline, syntax_ok
from .syntax import Definition, ImportRef, Outline
from .table import LanguageEntry, entry_for

__all__ = [
    "Definition", "ImportRef", "LanguageEntry", "Outline", "entry_for", "outline", "syntax_ok",
]

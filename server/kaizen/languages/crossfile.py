"""The context pack of a non-Python unit: what the names it uses are, resolved the language's
own way, as signatures and first doc lines, never bodies.

For each name a unit uses (``Unit.names``), in this order:

1. defined in the unit's own file (another function, a type): its signature;
2. bound by an import of the file (``import { roundPrice } from "./util"``, ``use
   crate::util::round_price``, ``import com.shop.Prices``): the import's resolver names the
   files, the definition is looked up in them, ``export ... from`` re-exports are followed;
   a qualified use (``util.RoundPrice``, ``Prices.round``, ``money::round``) goes through the
   import bound to its head;
3. visible without an import (Go's same package, Java's package directory, C#'s
   namespace) or through an include-everything import (C ``#include``, Ruby ``require``,
   PHP ``require``, a Java ``.*``, a C# ``using``);
4. otherwise, when the workspace symbol index defines it: the same-named definition whose
   path is closest to the unit's file (one, not all).

An import the resolver finds no workspace file for is a library: its names are listed,
not expanded. Files are read through the symbol index when it holds them, else outlined
on demand (cached per file version), so the pack is the same before and after the index's
background build for everything the imports decide.

The pack's text is part of the unit's hash: a changed callee signature in another file
changes its callers' hashes, so their cached reviews are not reused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

from .pack_text import render_sections
from .resolution import ContextEntry, Resolution, outline_text
from .symbols import Imported, Symbol, SymbolIndex, symbols_of
from .units import Unit


@lru_cache(maxsize=16)
def _text_facts(
    language: str, text: str, document: str = ""
) -> tuple[tuple[Symbol, ...], tuple[Imported, ...]]:
    """Outlined once per text (every unit of a document asks for the same), from the tree
    the document's units were just cut from (``document``: its path)."""
    return symbols_of(outline_text(language, text, document))


_RESOLUTIONS_KEPT = 8
_resolutions: OrderedDict[tuple[Any, ...], Resolution] = OrderedDict()
_resolutions_lock = threading.Lock()


def _resolution(
    path: Path, root: Path | None, language: str, index: SymbolIndex | None, text: str | None
) -> Resolution | None:
    """The document's resolution state, made once per text and index generation (the
    instant view, the run and each unit share it)."""
    generation = index.generation if index is not None else -1
    key = (str(path), str(root), language, text, id(index), generation)
    with _resolutions_lock:
        if (known := _resolutions.get(key)) is not None:
            _resolutions.move_to_end(key)
            return known
    if text is not None:
        own = _text_facts(language, text, str(path))
    elif index is not None and (entry := index.get(path)) is not None:
        own = (entry.symbols, entry.imports)
    else:
        return None
    made = Resolution(path, root, language, index, own)
    with _resolutions_lock:
        _resolutions[key] = made
        while len(_resolutions) > _RESOLUTIONS_KEPT:
            _resolutions.popitem(last=False)
    return made


def context_entries(
    unit: Unit,
    language: str,
    path: Path,
    root: Path | None,
    index: SymbolIndex | None,
    text: str | None = None,
) -> list[ContextEntry]:
    """The context entries of ``unit`` (see the module doc), in a stable order; ``text``:
    the document as the editor has it (else the index's entry for ``path``)."""
    res = _resolution(path, root, language, index, text)
    if res is None:
        return []
    skip = {unit.name, unit.name.rsplit(".", 1)[-1]}
    out: dict[str, ContextEntry] = {}
    with res.lock:
        for name in sorted(unit.names):
            if name not in skip and (found := res.answer(name, unit)) is not None:
                out.setdefault(found.text, found)
    return list(out.values())


@lru_cache(maxsize=16)
def _lines(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines())


def unit_imports(unit: Unit, res: Resolution, entries: list[ContextEntry], text: str) -> list[str]:
    """The import statements the unit uses, as written (their first lines), in file order:
    those binding a name it uses and those its entries were resolved through. Only these
    are in its pack (and hash): an import added to the module re-reviews no unit until one
    uses it."""
    used = {e.via for e in entries if e.via is not None}
    used.update(imp for local, (imp, _) in res.named.items() if local in unit.names)
    lines = _lines(text)
    out = []
    for imp in sorted(used, key=lambda i: i.line):
        out.append(lines[imp.line - 1].strip() if 1 <= imp.line <= len(lines) else imp.spec)
    return list(dict.fromkeys(out))


def foreign_pack(
    unit: Unit,
    language: str,
    path: Path,
    root: Path | None,
    index: SymbolIndex | None,
    text: str | None,
    budget: int,
) -> tuple[str, list[str]]:
    """(the pack's text, the names resolved in it) for a non-Python unit, cut to
    ``budget`` characters the way Python's pack is: imports, enclosing header, this module,
    other modules, libraries by name."""
    entries = context_entries(unit, language, path, root, index, text)
    res = _resolution(path, root, language, index, text)
    imports = unit_imports(unit, res, entries, text) if res is not None and text else []
    library = [e.text for e in entries if e.section == "library"]
    sections: list[tuple[str, list[str]]] = [
        ("Imports it uses", imports),
        ("Enclosing definition", [unit.header] if unit.header else []),
        ("Defined elsewhere in this module", [e.text for e in entries if e.section == "local"]),
        (
            "Defined in other modules of this project",
            [e.text for e in entries if e.section == "workspace"],
        ),
        ("From libraries (not shown)", [", ".join(library)] if library else []),
    ]
    resolved = [e.name for e in entries if e.section != "library"]
    return render_sections(sections, budget), resolved

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

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import resolve as resolvers
from .api import outline
from .symbols import FileSymbols, Imported, Symbol, SymbolIndex, symbols_of
from .table import entry_for
from .units import Unit
from .workspace_files import read_source

log = logging.getLogger(__name__)

MAX_SIGNATURE_CHARS = 400
MAX_REEXPORT_HOPS = 5
_QUALIFIER = re.compile(r"::|\.|->")
_WS = re.compile(r"\s+")
_TAG = re.compile(r"</?\w+[^>]*>")


@dataclass(frozen=True)
class ContextEntry:
    section: str  # "local" | "workspace" | "library"
    name: str  # the name as the unit uses it
    text: str  # the line the prompt carries


def _outline(language: str, text: str) -> Any | None:
    try:
        return outline(language, text)
    except Exception:  # a grammar that fails costs this file's context, not the review
        log.exception("could not outline a %s text", language)
        return None


def _language_of(path: Path, fallback: str) -> str:
    entry = entry_for(str(path))
    return entry.name if entry is not None else fallback


@lru_cache(maxsize=256)
def _disk_facts(path: str, language: str, _mtime: int, _size: int) -> FileSymbols:
    data = read_source(Path(path))
    if data is None:
        return FileSymbols(path, language, "")
    symbols, imports = symbols_of(_outline(language, data.decode("utf-8", "replace")))
    return FileSymbols(path, language, "", symbols=symbols, imports=imports)


class _Files:
    """The facts of workspace files: from the index when it holds them, else outlined."""

    def __init__(self, index: SymbolIndex | None, language: str) -> None:
        self.index = index
        self.language = language

    def facts(self, path: Path) -> FileSymbols:
        if self.index is not None and (entry := self.index.get(path)) is not None:
            return entry
        try:
            stat = path.stat()
        except (OSError, RuntimeError):
            return FileSymbols(str(path), self.language, "")
        language = _language_of(path, self.language)
        return _disk_facts(str(path), language, stat.st_mtime_ns, stat.st_size)


def _render(symbol: Symbol, where: str, comment: str) -> str:
    sig = _WS.sub(" ", symbol.signature or symbol.name).strip()
    if doc := _WS.sub(" ", _TAG.sub("", symbol.doc)).strip():  # C#'s <summary> tags out
        sig += f"  {comment} {doc}"
    if where:
        sig += f"  {comment} from {where}"
    return sig[:MAX_SIGNATURE_CHARS]


def _find(facts: FileSymbols, name: str) -> Symbol | None:
    """The definition ``name`` (plain or qualified, ``Prices.round``) in one file."""
    best: Symbol | None = None
    suffix = "." + name
    for s in facts.symbols:
        if s.qualname == name:
            return s
        if s.qualname.endswith(suffix) or (s.name == name and (best is None or not s.parent)):
            best = s  # ``Prices.Round`` of ``Shop.Money.Prices.Round``; top level first
    return best


class _Resolution:
    """One unit's resolution state: the file, its imports, the resolver."""

    def __init__(
        self, path: Path, root: Path | None, language: str, index: SymbolIndex | None
    ) -> None:
        self.path = path
        self.root = root
        self.resolver = resolvers.resolver_name(language) or ""
        self.files = _Files(index, language)
        self.index = index
        self._targets: dict[tuple[str, Path], list[Path]] = {}
        self._neighbours: list[Path] | None = None

    def rel(self, p: Path) -> str:
        if self.root is not None:
            try:
                return p.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return p.name

    def targets(self, spec: str, here: Path) -> list[Path]:
        key = (spec, here)
        if key not in self._targets:  # a unit asks about the same import for many names
            self._targets[key] = resolvers.resolve(self.resolver, spec, here, self.root)
        return self._targets[key]

    def neighbours(self) -> list[Path]:
        if self._neighbours is None:
            self._neighbours = resolvers.neighbours(self.resolver, self.path, self.root)
        return self._neighbours

    def lookup_in(self, files: list[Path], name: str, hops: int = 0) -> tuple[Path, Symbol] | None:
        """``name`` defined in one of ``files`` (the closest to the unit's file when several
        define it: a C# namespace spans directories), or re-exported by one of them."""
        hits = {f: found for f in files if (found := _find(self.files.facts(f), name))}
        if (best := resolvers.closest(hits, self.path)) is not None:
            return best, hits[best]
        if hops >= MAX_REEXPORT_HOPS:
            return None
        for f in files:  # ``export { x } from "./y"``, ``export * from "./y"``, ``pub use``
            for imp in self.files.facts(f).imports:
                if not imp.reexport:
                    continue
                original = name
                if imp.names:
                    match = [n for n, alias in imp.names if (alias or n) == name]
                    if not match:
                        continue
                    original = match[0]
                hit = self.lookup_in(self.targets(imp.spec, f), original, hops + 1)
                if hit is not None:
                    return hit
        return None


def _bindings(
    imports: tuple[Imported, ...], resolver: str
) -> tuple[dict[str, tuple[Imported, str]], list[Imported]]:
    """local name -> (import, imported name or "" for a namespace); and the imports that
    bring every name of their target into scope (includes, requires, wildcards)."""
    named: dict[str, tuple[Imported, str]] = {}
    everything: list[Imported] = []
    for imp in imports:
        if imp.names:
            for name, alias in imp.names:
                if name == "*" and not alias:  # ``import a.b.*``, ``use a::*``
                    join = resolvers.JOINS.get(resolver, "")
                    wild = f"{imp.spec}{join}*" if join and not imp.spec.endswith("*") else ""
                    everything.append(replace(imp, spec=wild or imp.spec))
                elif name in ("*", imp.spec):  # ``* as ns``, Go's ``m "a/b"``, C#'s ``M = A.B``
                    named[alias or _tail(imp.spec)] = (imp, "")
                else:
                    named[alias or name] = (imp, name)
            continue
        if imp.spec.endswith(("*", ".*", "::*")):
            everything.append(imp)
            continue
        # ``import "a/b/util"`` (Go), ``mod util;`` / ``use a::util`` (Rust), ``#include``
        if tail := _tail(imp.spec):
            named.setdefault(tail, (imp, ""))
        everything.append(imp)
    return named, everything


def _tail(spec: str) -> str:
    parts = [p for p in re.split(r"[/.:\\]+", spec.strip("\"'<>").rstrip("/")) if p]
    return parts[-1] if parts else ""


def _split(name: str) -> tuple[str, str]:
    parts = _QUALIFIER.split(name, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (name, "")


def _comment(language: str) -> str:
    entry = entry_for(language)
    return (entry.line_comment if entry is not None else "") or "//"


def _own_facts(
    language: str, path: Path, index: SymbolIndex | None, text: str | None
) -> tuple[tuple[Symbol, ...], tuple[Imported, ...]] | None:
    """The unit's own file's definitions and imports: from its text when given (the
    editor's buffer), else from the index."""
    if text is not None:
        return _text_facts(language, text)
    if index is not None and (entry := index.get(path)) is not None:
        return entry.symbols, entry.imports
    return None


@lru_cache(maxsize=16)
def _text_facts(language: str, text: str) -> tuple[tuple[Symbol, ...], tuple[Imported, ...]]:
    """Outlined once per text: every unit of a document asks for the same."""
    return symbols_of(_outline(language, text))


def context_entries(
    unit: Unit,
    language: str,
    path: Path,
    root: Path | None,
    index: SymbolIndex | None,
    text: str | None = None,
) -> list[ContextEntry]:
    """The context entries of ``unit`` (see the module doc), in a stable order."""
    found = _own_facts(language, path, index, text)
    if found is None:
        return []
    own_symbols, own_imports = found
    res = _Resolution(path, root, language, index)
    comment = _comment(language)
    own = FileSymbols(str(path), language, "", symbols=own_symbols, imports=own_imports)
    named, everything = _bindings(own_imports, res.resolver)
    out: list[ContextEntry] = []
    skip = {unit.name, unit.name.rsplit(".", 1)[-1]}
    for name in sorted(unit.names):
        if name in skip:
            continue
        out.extend(_one(name, unit, own, named, everything, res, comment))
    return list({e.text: e for e in out}.values())


def _one(
    name: str,
    unit: Unit,
    own: FileSymbols,
    named: dict[str, tuple[Imported, str]],
    everything: list[Imported],
    res: _Resolution,
    comment: str,
) -> Iterator[ContextEntry]:
    head, rest = _split(name)
    local = _find(own, name)
    if local is not None and not (unit.start <= local.start <= unit.end):
        yield ContextEntry("local", name, _render(local, "", comment))
        return
    if head in named:
        imp, imported = named[head]
        member = imported if not rest else (f"{imported}.{rest}" if imported else rest)
        used = member
        if not member:  # the namespace itself: ``Prices`` of ``import a.b.Prices``
            member = _tail(imp.spec)
        targets = res.targets(imp.spec, res.path)
        if not targets and imported and (join := resolvers.JOINS.get(res.resolver)):
            targets = res.targets(f"{imp.spec}{join}{imported}", res.path)
            member = rest or imported
        if not targets:
            yield ContextEntry("library", name, f"{imp.spec}.{used}" if used else imp.spec)
            return
        hit = res.lookup_in(targets, member) or (res.lookup_in(targets, rest) if rest else None)
        if hit is None and imported and rest:
            hit = res.lookup_in(targets, imported)
        if hit is not None:
            yield ContextEntry("workspace", name, _render(hit[1], res.rel(hit[0]), comment))
        return
    if local is not None:
        return  # the unit's own definition
    for imp in everything:
        targets = res.targets(imp.spec, res.path)
        if targets and (hit := res.lookup_in(targets, name)) is not None:
            yield ContextEntry("workspace", name, _render(hit[1], res.rel(hit[0]), comment))
            return
    # a member of an imported type the unit names: ``Prices::roundPrice`` (PHP),
    # ``Money::new`` (Rust) reach the unit's names as ``Prices`` and ``roundPrice``
    for local, (imp, imported) in sorted(named.items()):
        if local not in unit.names or not imported:
            continue
        targets = res.targets(imp.spec, res.path)
        if targets and (hit := res.lookup_in(targets, f"{imported}.{name}")) is not None:
            yield ContextEntry("workspace", name, _render(hit[1], res.rel(hit[0]), comment))
            return
    neighbours = res.neighbours()
    if neighbours and (hit := res.lookup_in(neighbours, name)) is not None:
        yield ContextEntry("workspace", name, _render(hit[1], res.rel(hit[0]), comment))
        return
    if res.index is not None and not rest:
        candidates = [
            (res.index.root / e.path, s)
            for e, s in res.index.lookup(name)
            if not s.parent  # top-level definitions only: a method name is too common
            and resolvers.resolver_name(e.language) == res.resolver
            and res.index.root / e.path != res.path
        ]
        best = resolvers.closest([p for p, _ in candidates], res.path)
        for p, s in candidates:
            if p == best:
                yield ContextEntry("workspace", name, _render(s, res.rel(p), comment))
                return


def import_lines(text: str, imports: tuple[Imported, ...]) -> list[str]:
    """The file's import statements as written (their first lines)."""
    lines = text.splitlines()
    out: list[str] = []
    for imp in imports:
        if 1 <= imp.line <= len(lines):
            out.append(lines[imp.line - 1].strip())
        else:
            out.append(imp.spec)
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
    imports: list[str] = []
    if text is not None:
        imports = import_lines(text, _text_facts(language, text)[1])
    library = [e.text for e in entries if e.section == "library"]
    sections: list[tuple[str, list[str]]] = [
        ("Imports of this module", imports),
        ("Enclosing definition", [unit.header] if unit.header else []),
        ("Defined elsewhere in this module", [e.text for e in entries if e.section == "local"]),
        (
            "Defined in other modules of this project",
            [e.text for e in entries if e.section == "workspace"],
        ),
        ("From libraries (not shown)", [", ".join(library)] if library else []),
    ]
    out: list[str] = []
    used = 0
    for title, items in sections:
        kept: list[str] = []
        for item in dict.fromkeys(items):
            if used + len(item) + 1 > budget:
                break
            kept.append(item)
            used += len(item) + 1
        if kept:
            out.append(f"{title}:\n" + "\n".join(kept))
    resolved = [e.name for e in entries if e.section != "library"]
    return "\n".join(out), resolved

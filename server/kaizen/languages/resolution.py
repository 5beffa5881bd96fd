"""How one document's names are resolved: the steps ``crossfile`` lists, with every answer
remembered for the document's other units.

``Resolution`` holds a document's imports (as bindings: local name -> import and imported
name; plus the imports that bring everything into scope), its resolver, and the facts of
the files it has looked into (from the symbol index when it holds them, else outlined from
disk once per file version). ``answer`` answers one name for one unit.
"""

from __future__ import annotations

import logging
import re
import threading
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
    via: Imported | None = None  # the import it was resolved through


def outline_text(language: str, text: str, document: str = "") -> Any | None:
    try:
        return outline(language, text, document)
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
    symbols, imports = symbols_of(outline_text(language, data.decode("utf-8", "replace")))
    return FileSymbols(path, language, "", symbols=symbols, imports=imports)


class _Files:
    """The facts of workspace files: from the index when it holds them, else outlined;
    each file's definitions by name, built once per document's resolution."""

    def __init__(self, index: SymbolIndex | None, language: str) -> None:
        self.index = index
        self.language = language
        self._facts: dict[Path, FileSymbols] = {}
        self._maps: dict[Path, dict[str, Symbol]] = {}

    def facts(self, path: Path) -> FileSymbols:
        if (known := self._facts.get(path)) is not None:
            return known
        entry = self.index.get(path) if self.index is not None else None
        if entry is None:
            try:
                stat = path.stat()
            except (OSError, RuntimeError):
                entry = FileSymbols(str(path), self.language, "")
            else:
                language = _language_of(path, self.language)
                entry = _disk_facts(str(path), language, stat.st_mtime_ns, stat.st_size)
        self._facts[path] = entry
        return entry

    def find(self, path: Path, name: str) -> Symbol | None:
        """The definition ``name`` (plain or qualified, ``Prices.round``) in one file."""
        by_name = self._maps.get(path)
        if by_name is None:
            by_name = self._maps[path] = _by_name(self.facts(path).symbols)
        if (found := by_name.get(name)) is not None or "." not in name:
            return found
        suffix = "." + name  # ``Prices.Round`` of ``Shop.Money.Prices.Round``
        return next((s for s in self.facts(path).symbols if s.qualname.endswith(suffix)), None)


def _by_name(symbols: tuple[Symbol, ...]) -> dict[str, Symbol]:
    """Qualified names, then plain names (a top-level definition before a member)."""
    out: dict[str, Symbol] = {}
    for s in symbols:
        if s.name not in out or (not s.parent and out[s.name].parent):
            out[s.name] = s
    for s in symbols:
        out[s.qualname] = s
    return out


def _render(symbol: Symbol, where: str, comment: str) -> str:
    sig = _WS.sub(" ", symbol.signature or symbol.name).strip()
    if doc := _WS.sub(" ", _TAG.sub("", symbol.doc)).strip():  # C#'s <summary> tags out
        sig += f"  {comment} {doc}"
    if where:
        sig += f"  {comment} from {where}"
    return sig[:MAX_SIGNATURE_CHARS]


class Resolution:
    """One document's resolution state, shared by its units: its file, imports, resolver,
    and every answer already worked out (a 2,000-line file's 60 units ask about the same
    imports and mostly the same names)."""

    def __init__(
        self,
        path: Path,
        root: Path | None,
        language: str,
        index: SymbolIndex | None,
        own: tuple[tuple[Symbol, ...], tuple[Imported, ...]],
    ) -> None:
        self.path = path
        self.root = root
        self.resolver = resolvers.resolver_name(language) or ""
        self.files = _Files(index, language)
        self.index = index
        self.comment = _comment(language)
        self.own = _by_name(own[0])
        self.named, self.everything = _bindings(own[1], self.resolver)
        self._targets: dict[tuple[str, Path], list[Path]] = {}
        self._neighbours: list[Path] | None = None
        self._imported: dict[str, ContextEntry | None] = {}
        self._visible: dict[str, ContextEntry | None] = {}
        self._members: dict[tuple[str, str], ContextEntry | None] = {}
        self.lock = threading.Lock()  # plans of one text may run on two threads at once

    def rel(self, p: Path) -> str:
        if self.root is not None:
            try:
                return p.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return p.name

    def entry(
        self, name: str, hit: tuple[Path, Symbol], via: Imported | None = None
    ) -> ContextEntry:
        text = _render(hit[1], self.rel(hit[0]), self.comment)
        return ContextEntry("workspace", name, text, via)

    def targets(self, spec: str, here: Path) -> list[Path]:
        key = (spec, here)
        if key not in self._targets:
            self._targets[key] = resolvers.resolve(self.resolver, spec, here, self.root)
        return self._targets[key]

    def neighbours(self) -> list[Path]:
        if self._neighbours is None:
            self._neighbours = resolvers.neighbours(self.resolver, self.path, self.root)
        return self._neighbours

    def lookup_in(self, files: list[Path], name: str, hops: int = 0) -> tuple[Path, Symbol] | None:
        """``name`` defined in one of ``files`` (the closest to the unit's file when several
        define it: a C# namespace spans directories), or re-exported by one of them."""
        hits = {f: found for f in files if (found := self.files.find(f, name))}
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

    # one name, the steps of the module doc -----------------------------------------------

    def answer(self, name: str, unit: Unit) -> ContextEntry | None:
        local = self.own.get(name)
        if local is not None and not (unit.start <= local.start <= unit.end):
            return ContextEntry("local", name, _render(local, "", self.comment))
        head, _rest = _split(name)
        if head in self.named:
            if name not in self._imported:
                self._imported[name] = self.through_import(name)
            return self._imported[name]
        if local is not None:
            return None  # the unit's own definition
        if name not in self._visible:
            self._visible[name] = self.through_scope(name)
        if (found := self._visible[name]) is not None and found.section != "fallback":
            return found
        # a member of an imported type the unit names: ``Prices::roundPrice`` (PHP),
        # ``Money::new`` (Rust) reach the unit's names as ``Prices`` and ``roundPrice``
        for local_name in sorted(self.named):
            if local_name in unit.names and self.named[local_name][1]:
                key = (local_name, name)
                if key not in self._members:
                    self._members[key] = self.member(local_name, name)
                if (member := self._members[key]) is not None:
                    return member
        if found is None or not _called_or_typed(name, unit.text):
            return None  # a bare word (a local variable, a comment) is no reason to guess
        return replace(found, section="workspace")

    def through_import(self, name: str) -> ContextEntry | None:
        head, rest = _split(name)
        imp, imported = self.named[head]
        member = imported if not rest else (f"{imported}.{rest}" if imported else rest)
        used = member
        if not member:  # the namespace itself: ``Prices`` of ``import a.b.Prices``
            member = _tail(imp.spec)
        targets = self.targets(imp.spec, self.path)
        if not targets and imported and (join := resolvers.JOINS.get(self.resolver)):
            targets = self.targets(f"{imp.spec}{join}{imported}", self.path)
            member = rest or imported
        if not targets:
            return ContextEntry("library", name, f"{imp.spec}.{used}" if used else imp.spec, imp)
        hit = self.lookup_in(targets, member) or (self.lookup_in(targets, rest) if rest else None)
        if hit is None and imported and rest:
            hit = self.lookup_in(targets, imported)
        return self.entry(name, hit, imp) if hit is not None else None

    def through_scope(self, name: str) -> ContextEntry | None:
        """Includes and wildcards, then the package, then (section "fallback") the symbol
        index's closest same-named top-level definition."""
        for imp in self.everything:
            targets = self.targets(imp.spec, self.path)
            if targets and (hit := self.lookup_in(targets, name)) is not None:
                return self.entry(name, hit, imp)
        neighbours = self.neighbours()
        if neighbours and (hit := self.lookup_in(neighbours, name)) is not None:
            return self.entry(name, hit)
        if self.index is None or _split(name)[1]:
            return None
        candidates = {
            self.index.root / e.path: s
            for e, s in self.index.lookup(name)
            if not s.parent  # top-level definitions only: a method name is too common
            and resolvers.resolver_name(e.language) == self.resolver
        }
        candidates.pop(self.path, None)
        best = resolvers.closest(candidates, self.path)
        if best is None:
            return None
        return replace(self.entry(name, (best, candidates[best])), section="fallback")

    def member(self, local_name: str, name: str) -> ContextEntry | None:
        imp, imported = self.named[local_name]
        targets = self.targets(imp.spec, self.path)
        hit = self.lookup_in(targets, f"{imported}.{name}") if targets else None
        return self.entry(name, hit, imp) if hit is not None else None


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


def _called_or_typed(name: str, text: str) -> bool:
    """Whether the unit calls ``name``, constructs it, qualifies through it or names it as
    a type: the uses the fallback ranking is trusted for."""
    n = re.escape(name)
    pattern = rf"(?<![\w.]){n}\s*(?:\(|<|\.|::)|\bnew\s+{n}\b|:\s*{n}\b"
    return re.search(pattern, text) is not None


def _split(name: str) -> tuple[str, str]:
    parts = _QUALIFIER.split(name, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (name, "")


def _comment(language: str) -> str:
    entry = entry_for(language)
    return (entry.line_comment if entry is not None else "") or "//"

"""The workspace symbol index: every definition of every supported file, kept by content hash.

The context pack of a TypeScript, Go, Rust... unit needs the signature of what the unit
calls in other files; reading and parsing those files on every review would cost a parse
per callee per save. The index keeps, per file, its content hash, its definitions (name,
qualified name, kind, signature = the text up to the body, first doc line, range, parent)
and its imports as written (the pack follows ``export ... from`` re-exports through them).

It knows code, not the database: ``build`` and ``update`` return a ``Delta`` (files whose
entry changed, files that are gone) which the caller persists (``memory.symbols``), and
``load`` takes back what was persisted, so a restart re-reads only files whose size or
modification time changed, and re-parses only those whose hash changed too.

Thread-safe: the build runs on a worker thread while the review's planning reads it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core.generated import why_generated
from . import workspace_files
from .symbol_facts import Delta, FileSymbols, Imported, Symbol, content_hash, symbols_of
from .table import entry_for

log = logging.getLogger(__name__)

# (language, text) -> an outline with ``definitions`` and ``imports`` (kaizen.languages.outline)
Outliner = Callable[[str, str], Any]
# relative path -> its language, or None when the file is not indexed
LanguageOf = Callable[[str], str | None]

__all__ = [
    "Delta",
    "FileSymbols",
    "Imported",
    "Symbol",
    "SymbolIndex",
    "content_hash",
    "symbols_of",
]


class SymbolIndex:
    """The index of one workspace root (see the module doc)."""

    def __init__(self, root: Path, outline: Outliner, language_of: LanguageOf) -> None:
        self.root = root
        self._prefix = str(root).rstrip(os.sep) + os.sep
        self._outline = outline
        self._language_of = language_of
        self._lock = threading.Lock()
        self._files: dict[str, FileSymbols] = {}
        self._by_name: dict[str, set[str]] = {}
        self.built = threading.Event()  # set once a full build finished
        self.generation = 0  # counts changes: what was resolved against it is stale

    # reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._files)

    def get(self, path: Path | str) -> FileSymbols | None:
        rel = self.relative(path)
        return None if rel is None else self._files.get(rel)

    def files(self) -> list[FileSymbols]:
        with self._lock:
            return list(self._files.values())

    def lookup(self, name: str) -> list[tuple[FileSymbols, Symbol]]:
        """Every definition named ``name`` (or qualified ``name``), file by file."""
        with self._lock:
            paths = sorted(self._by_name.get(name, ()))
            entries = [self._files[p] for p in paths if p in self._files]
        return [(e, s) for e in entries for s in e.symbols if name in (s.name, s.qualname)]

    def relative(self, path: Path | str) -> str | None:
        text = str(path)
        if text.startswith(self._prefix):  # the common case, without pathlib's parsing
            return text[len(self._prefix) :].replace(os.sep, "/")
        p = Path(path)
        if not p.is_absolute():
            return p.as_posix()
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            try:
                return p.resolve().relative_to(self.root.resolve()).as_posix()
            except (ValueError, OSError, RuntimeError):
                return None

    # writing ---------------------------------------------------------------------------

    def load(self, entries: Iterable[FileSymbols]) -> int:
        """Entries persisted by an earlier process; returns how many."""
        with self._lock:
            for e in entries:
                self._put(e)
            return len(self._files)

    def _put(self, entry: FileSymbols) -> None:
        self.generation += 1
        old = self._files.get(entry.path)
        if old is not None:
            for s in old.symbols:
                for key in (s.name, s.qualname):
                    holders = self._by_name.get(key)
                    if holders is not None:
                        holders.discard(entry.path)
                        if not holders:
                            del self._by_name[key]
        self._files[entry.path] = entry
        for s in entry.symbols:
            self._by_name.setdefault(s.name, set()).add(entry.path)
            self._by_name.setdefault(s.qualname, set()).add(entry.path)

    def _drop(self, rel: str) -> bool:
        old = self._files.get(rel)
        if old is None:
            return False
        self._put(FileSymbols(rel, old.language, ""))  # unlinks its names
        del self._files[rel]
        return True

    def _entry(self, rel: str, language: str, data: bytes, mtime_ns: int, size: int) -> FileSymbols:
        digest = content_hash(data)
        old = self._files.get(rel)
        if old is not None and old.hash == digest:
            return replace(old, mtime_ns=mtime_ns, size=size)
        text = data.decode("utf-8", "replace")
        if why_generated(self.root / rel, text, self.root, entry_for(language)):
            return FileSymbols(rel, language, digest, mtime_ns, size, generated=True)
        try:
            outline = self._outline(language, text)
            symbols, imports = symbols_of(outline)
        except Exception:  # one bad file costs its own entry, never the index
            log.exception("could not outline %s", rel)
            symbols, imports = (), ()
        return FileSymbols(rel, language, digest, mtime_ns, size, symbols, imports)

    def _apply(self, entry: FileSymbols, delta: Delta, buffer: bool = False) -> None:
        """Put ``entry``; ``buffer``: it comes from the editor, whose unchanged text says
        nothing about the file's stamp (a changed text gets stamp 0: re-read next build)."""
        with self._lock:
            old = self._files.get(entry.path)
            if old is not None and old.hash == entry.hash:
                if not buffer and (old.mtime_ns, old.size) != (entry.mtime_ns, entry.size):
                    self._put(entry)
                    delta.restamped.append(entry)
                return
            self._put(entry)
        delta.changed.append(entry)

    def build(self, should_stop: Callable[[], bool] = lambda: False) -> Delta:
        """Index the whole workspace: files whose size and mtime match the loaded entry are
        not read, files read whose hash matches are not parsed, files gone are removed."""
        delta = Delta()
        listed = workspace_files.listed(self.root, lambda rel: self._language_of(rel) is not None)
        seen: set[str] = set()
        for rel in listed:
            if should_stop():
                return delta
            language = self._language_of(rel)
            if language is None:
                continue
            path = self.root / rel
            try:
                stat = path.stat()
            except (OSError, RuntimeError):  # gone since the listing, or a link loop
                continue
            seen.add(rel)
            old = self._files.get(rel)
            if old is not None and (old.mtime_ns, old.size) == (stat.st_mtime_ns, stat.st_size):
                continue
            data = workspace_files.read_source(path)
            if data is None:
                seen.discard(rel)
                continue
            delta.read += 1
            self._apply(self._entry(rel, language, data, stat.st_mtime_ns, stat.st_size), delta)
        with self._lock:
            gone = [rel for rel in self._files if rel not in seen]
            for rel in gone:
                self._drop(rel)
        delta.removed.extend(gone)
        self.built.set()
        return delta

    def update(self, path: Path | str, text: str | None = None) -> Delta:
        """One file changed (``text``: the editor's buffer) or was created or deleted (no
        ``text`` and no file). Unchanged content costs a hash, nothing more."""
        delta = Delta()
        rel = self.relative(path)
        if rel is None:
            return delta
        language = self._language_of(rel)
        if language is None:
            return delta
        full = self.root / rel
        if text is not None:
            encoded = text.encode("utf-8", "surrogatepass")
            data: bytes | None = encoded
            mtime_ns, size = 0, len(encoded)
        else:
            data = workspace_files.read_source(full)
            try:
                stat = full.stat()
                mtime_ns, size = stat.st_mtime_ns, stat.st_size
            except (OSError, RuntimeError):
                data, mtime_ns, size = None, 0, 0
        if data is None:
            with self._lock:
                if self._drop(rel):
                    delta.removed.append(rel)
            return delta
        delta.read = 1
        self._apply(self._entry(rel, language, data, mtime_ns, size), delta, text is not None)
        return delta

    def remove(self, path: Path | str) -> Delta:
        """A file or a whole directory was deleted."""
        delta = Delta()
        rel = self.relative(path)
        if rel is None:
            return delta
        with self._lock:
            inside = [p for p in self._files if p == rel or p.startswith(rel + "/")]
            for p in inside:
                self._drop(p)
        delta.removed.extend(inside)
        return delta

"""What the symbol index keeps of one file, as plain values: its definitions (``Symbol``),
its imports as written (``Imported``), its content hash and stamp (``FileSymbols``, JSON for
its database row), and what a build or an update changed (``Delta``).

``symbols_of`` turns an outline of the language layer (``kaizen.languages.outline``) into
them, so the index and the database never hold tree-sitter objects.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Symbol:
    name: str
    qualname: str
    kind: str
    signature: str
    doc: str
    start: int  # 1-based lines
    end: int
    parent: str = ""


@dataclass(frozen=True)
class Imported:
    spec: str  # as written: "./util", "github.com/x/y", "crate::a::b", "java.util.List"
    names: tuple[tuple[str, str], ...] = ()  # (imported name, local alias or "")
    line: int = 0
    reexport: bool = False


@dataclass(frozen=True)
class FileSymbols:
    path: str  # relative to the workspace root, POSIX
    language: str
    hash: str
    mtime_ns: int = 0
    size: int = 0
    symbols: tuple[Symbol, ...] = ()
    imports: tuple[Imported, ...] = ()
    # generated or minified: kept (by hash, so it is not read again) without definitions
    generated: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "symbols": [list(asdict(s).values()) for s in self.symbols],
            "imports": [
                [i.spec, [list(n) for n in i.names], i.line, i.reexport] for i in self.imports
            ],
        }

    @classmethod
    def from_row(
        cls, path: str, language: str, hash_: str, mtime_ns: int, size: int, data: dict[str, Any]
    ) -> FileSymbols:
        return cls(
            path,
            language,
            hash_,
            mtime_ns,
            size,
            tuple(Symbol(*s) for s in data.get("symbols") or ()),
            tuple(
                Imported(i[0], tuple((n[0], n[1]) for n in i[1]), i[2], bool(i[3]))
                for i in data.get("imports") or ()
            ),
            bool(data.get("generated")),
        )


@dataclass
class Delta:
    """What a build or an update changed: to persist, and to invalidate packs by."""

    changed: list[FileSymbols] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restamped: list[FileSymbols] = field(default_factory=list)  # same hash, new mtime/size
    read: int = 0  # files read from disk

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed or self.restamped)


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _first(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return default


def symbols_of(outline: Any) -> tuple[tuple[Symbol, ...], tuple[Imported, ...]]:
    """An outline's definitions and imports as the index keeps them."""
    symbols: list[Symbol] = []
    for d in getattr(outline, "definitions", None) or ():
        name = _text(_first(d, "name", default=""))
        if not name:
            continue
        symbols.append(
            Symbol(
                name,
                _text(_first(d, "qualified", "qualified_name", "qualname", default=name)) or name,
                _text(_first(d, "kind", default="")),
                _text(_first(d, "signature", default="")),
                _text(_first(d, "doc", "docstring", default="")),
                int(_first(d, "start_line", "start", default=0)),
                int(_first(d, "end_line", "end", default=0)),
                _text(_first(d, "parent", default="")),
            )
        )
    imports: list[Imported] = []
    for i in getattr(outline, "imports", None) or ():
        names: list[tuple[str, str]] = []
        for n in _first(i, "names", default=()) or ():
            if isinstance(n, str):
                names.append((n, ""))
            elif isinstance(n, (tuple, list)):
                names.append((str(n[0]), str(n[1] or "") if len(n) > 1 else ""))
            else:
                names.append((_text(_first(n, "name")), _text(_first(n, "alias", default=""))))
        imports.append(
            Imported(
                _text(_first(i, "spec", default="")),
                tuple(names),
                int(_first(i, "line", default=0)),
                bool(_first(i, "reexport", "re_export", "is_reexport", default=False)),
            )
        )
    return tuple(symbols), tuple(imports)

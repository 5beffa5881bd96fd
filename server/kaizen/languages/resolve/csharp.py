"""C# ``using`` directives: a namespace is every file that declares it.

C# does not tie namespaces to directories, so the resolver reads the ``namespace``
declarations of the workspace's .cs files (the first few KB of each, by regex, no parse),
remembered per file version. ``using A.B;`` is the files of namespace A.B; ``using X =
A.B.C;`` (an alias, spec ``A.B.C``) is C's namespace. A file sees its own namespace's types
without a ``using``.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from pathlib import Path

from .base import inside, mtime, walk_files

JOIN = "."
_NAMESPACE = re.compile(r"^\s*namespace\s+([\w.]+)", re.M)
_SCAN_TTL_S = 2.0  # a workspace walk is reused this long (a pack asks many times at once)


@lru_cache(maxsize=4096)
def _namespaces_of(path: str, _mtime: int) -> tuple[str, ...]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(8192)
    except OSError:
        return ()
    return tuple(dict.fromkeys(_NAMESPACE.findall(head)))


@lru_cache(maxsize=8)
def _files(root: str, _tick: int) -> tuple[Path, ...]:
    return tuple(walk_files(Path(root), (".cs",)))


def namespace_map(root: Path) -> dict[str, list[Path]]:
    """Namespace -> the workspace files declaring it."""
    out: dict[str, list[Path]] = {}
    for p in _files(str(root), int(time.monotonic() / _SCAN_TTL_S)):
        for ns in _namespaces_of(str(p), mtime(p)):
            out.setdefault(ns, []).append(p)
    return out


def resolve(spec: str, here: Path, root: Path | None) -> list[Path]:
    if root is None:
        return []
    namespaces = namespace_map(root)
    name = spec.removeprefix("static ").removeprefix("global::").strip()
    found = namespaces.get(name) or namespaces.get(name.rpartition(".")[0]) or []
    return [p for p in found if p != here and inside(p, root)]


def neighbours(here: Path, root: Path | None) -> list[Path]:
    if root is None:
        return []
    namespaces = namespace_map(root)
    out: list[Path] = []
    for ns in _namespaces_of(str(here), mtime(here)):
        out.extend(p for p in namespaces.get(ns, []) if p != here and p not in out)
    return out

"""Rust paths: ``mod``, ``use crate::``, ``super::``, ``self::``, mod.rs and file.rs layouts.

A file's module path follows from where it sits under the crate's src/ (lib.rs and main.rs
are the crate root, ``a/mod.rs`` and ``a.rs`` are both ``crate::a``, and ``a.rs``'s children
live in ``a/``). ``use crate::a::b::Item`` names either the module ``a::b`` (its file) or the
item ``Item`` in it: the longest prefix that is a file wins. ``mod x;`` (a spec of one
name) is a child module of the declaring file. Other crates are libraries.
"""

from __future__ import annotations

from pathlib import Path

from .base import existing, find_up

ROOT_FILES = ("lib.rs", "main.rs")


def crate_src(here: Path, root: Path | None) -> Path | None:
    """The src/ directory of the crate ``here`` belongs to."""
    cargo = find_up(here, root, ("Cargo.toml",))
    if cargo is not None and (cargo.parent / "src").is_dir():
        return cargo.parent / "src"
    for d in (here.parent, *here.parent.parents):  # no Cargo.toml: the nearest src/lib.rs
        if any((d / f).is_file() for f in ROOT_FILES):
            return d
        if root is not None and d == root:
            break
    return None


def module_path(here: Path, src: Path) -> list[str]:
    """``crate::a::b`` of the file ``src/a/b.rs`` as ["a", "b"]."""
    try:
        rel = here.relative_to(src)
    except ValueError:
        return []
    parts = list(rel.parts)
    if parts[-1] in ("mod.rs", *ROOT_FILES) and (len(parts) > 1 or parts[-1] in ROOT_FILES):
        return parts[:-1]
    parts[-1] = parts[-1].removesuffix(".rs")
    return parts


def _module_file(src: Path, path: list[str], root: Path | None) -> Path | None:
    if not path:
        found = existing((src / f for f in ROOT_FILES), root)
    else:
        base = src.joinpath(*path)
        found = existing([base.with_name(base.name + ".rs"), base / "mod.rs"], root)
    return found[0] if found else None


def resolve(spec: str, here: Path, root: Path | None) -> list[Path]:
    """The file of the module that ``spec`` names or that holds the item it names."""
    src = crate_src(here, root)
    if src is None:
        return []
    segments = [s for s in spec.removeprefix("::").split("::") if s]
    if not segments:
        return []
    current = module_path(here, src)
    head = segments[0]
    bases: list[list[str]]
    if head == "crate":
        bases = [[]]
        rest = segments[1:]
    elif head in ("self", "super"):
        base = list(current)
        rest = list(segments)
        while rest and rest[0] in ("self", "super"):
            if rest.pop(0) == "super" and base:
                base.pop()
        bases = [base]
    else:  # ``mod x;`` or a 2018 path through a module declared here or at the crate root
        bases = [current, []]
        rest = segments
    bare = head not in ("crate", "self", "super")
    for base in bases:
        for cut in range(len(rest), -1, -1):
            if cut == 0 and bare:
                break  # a bare path never names the module it starts from
            found = _module_file(src, base + rest[:cut], root)
            if found is not None:
                return [found]
    return []


def neighbours(here: Path, root: Path | None) -> list[Path]:
    """Nothing from another file is in scope without ``use`` or ``mod``."""
    return []

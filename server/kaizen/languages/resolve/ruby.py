"""Ruby ``require_relative`` (relative to the file) and ``require`` (the workspace's lib/,
then its root, as ``$LOAD_PATH`` usually has them; anything else is a gem: a library).
Constants autoloaded by Rails-style conventions have no import at all: the pack's fallback
ranking of same-named definitions finds them."""

from __future__ import annotations

from pathlib import Path

from .base import existing


def _with_rb(p: Path) -> list[Path]:
    return [p] if p.suffix == ".rb" else [p.with_name(p.name + ".rb")]


def resolve(spec: str, here: Path, root: Path | None) -> list[Path]:
    name = spec.strip().strip("'\"")
    if not name:
        return []
    if name.startswith("."):  # require_relative "./x" and require "./x" alike
        return existing(_with_rb(here.parent / name), root)[:1]
    candidates = _with_rb(here.parent / name)  # require_relative "x"
    if root is not None:
        candidates += _with_rb(root / "lib" / name) + _with_rb(root / name)
    return existing(candidates, root)[:1]


def neighbours(here: Path, root: Path | None) -> list[Path]:
    return []

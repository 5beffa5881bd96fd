"""What every import resolver shares: workspace bounds, cached reads of project files and
the fallback ranking by path closeness.

A resolver answers one question, "which workspace files may define what this import
names?", from paths and the import spec as written, without parsing any code (tests run it
on workspaces of empty-ish files, without tree-sitter). An empty answer means the import
leaves the workspace (a library) or cannot be decided; the context pack then falls back to
``closest``: the same-named definitions of the symbol index ranked by how close their path is
to the importing file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"}
)


def inside(path: Path, root: Path | None) -> bool:
    """Whether ``path`` is in the workspace (symlinks resolved: a link out is outside)."""
    if root is None:
        return True
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return False
    return True


def existing(candidates: Iterable[Path], root: Path | None) -> list[Path]:
    """The candidates that are files inside the workspace, each once, in order."""
    out: list[Path] = []
    for c in candidates:
        c = Path(os.path.normpath(c))  # "src/../lib/x" is "lib/x"
        try:
            ok = c.is_file()
        except OSError:
            ok = False
        if ok and inside(c, root) and c not in out:
            out.append(c)
    return out


def files_in(directory: Path, suffixes: tuple[str, ...], root: Path | None) -> list[Path]:
    """The files of one directory with one of ``suffixes``, sorted (not recursive)."""
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    return existing((p for p in entries if p.name.endswith(suffixes)), root)


def ancestors(here: Path, root: Path | None) -> list[Path]:
    """The directories from the file's own up to the workspace root (inclusive)."""
    out: list[Path] = []
    for d in (here.parent, *here.parent.parents):
        out.append(d)
        if root is not None and d == root:
            break
    return out


def find_up(here: Path, root: Path | None, names: tuple[str, ...]) -> Path | None:
    """The nearest file named one of ``names`` in the file's directory or above it."""
    for d in ancestors(here, root):
        for name in names:
            if (d / name).is_file():
                return d / name
    return None


def mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _strip_comments(text: str) -> str:
    return _COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)


@lru_cache(maxsize=64)
def _jsonc(path: str, _mtime: int) -> dict[str, object]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        data = json.loads(_TRAILING_COMMA.sub(r"\1", _strip_comments(text)))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def read_jsonc(path: Path) -> dict[str, object]:
    """A JSON file that may hold comments and trailing commas (tsconfig.json, jsconfig.json),
    parsed once per version of the file; {} when absent or malformed."""
    return _jsonc(str(path), mtime(path))


@lru_cache(maxsize=64)
def _text(path: str, _mtime: int) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def read_text(path: Path) -> str:
    """A project file's text (go.mod, Cargo.toml, ...), read once per version."""
    return _text(str(path), mtime(path))


def closeness(a: Path, b: Path) -> int:
    """How many leading directories two paths share: the fallback ranking's measure."""
    n = 0
    for x, y in zip(a.parent.parts, b.parent.parts, strict=False):
        if x != y:
            break
        n += 1
    return n


def closest(candidates: Iterable[Path], here: Path) -> Path | None:
    """The candidate nearest to ``here`` (most shared directories, then fewest steps away,
    then by name, so the answer is stable)."""
    best: tuple[int, int, str] | None = None
    chosen: Path | None = None
    for c in candidates:
        shared = closeness(c, here)
        distance = len(c.parent.parts) - shared
        key = (-shared, distance, c.as_posix())
        if best is None or key < best:
            best, chosen = key, c
    return chosen


def walk_files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``root`` with one of ``suffixes``, never following symlinked directories
    (a link loop cannot trap the walk), skipping dependency and VCS directories."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        out.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(suffixes))
    return out

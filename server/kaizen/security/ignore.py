"""Files never sent to a model: ``.env`` files, what git ignores, and ``.kaizenignore``.

``git check-ignore`` answers for .gitignore (nested files, global excludes and all) exactly as
git does; ``.kaizenignore`` uses the same gitwildmatch syntax through pathspec. Answers are
cached per path and invalidated when either ignore file changes.
"""

from __future__ import annotations

import fnmatch
import subprocess
from functools import lru_cache
from pathlib import Path

import pathspec

NEVER_SEND = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    ".netrc",
    ".npmrc",
    ".pypirc",
    "credentials",
    "credentials.json",
    "secrets.*",
)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@lru_cache(maxsize=64)
def _kaizenignore(root: Path, _mtime: float) -> pathspec.PathSpec | None:
    path = root / ".kaizenignore"
    try:
        return pathspec.PathSpec.from_lines(
            "gitwildmatch", path.read_text(encoding="utf-8").splitlines()
        )
    except (OSError, UnicodeDecodeError):
        return None


@lru_cache(maxsize=1024)
def _git_ignored(root: Path, relpath: str, _mtime: float) -> bool:
    primed = _primed.get((root, _mtime))
    if primed is not None and relpath in primed[0]:
        return relpath in primed[1]
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", "--no-index", relpath],
            capture_output=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


# answers of one ``git check-ignore --stdin`` for many paths at once, per (root, .gitignore
# mtime): (paths asked, paths ignored); the last few roots primed
PRIMED_ROOTS = 8
_primed: dict[tuple[Path, float], tuple[frozenset[str], frozenset[str]]] = {}


def prime_git_ignored(root: Path, paths: list[Path]) -> None:
    """Ask git once about many files under ``root`` (``kaizen check`` on a whole tree): the
    per-file answers ``why_not_sent`` needs then cost no process each. Nothing is primed
    when git cannot answer; each file is then asked on its own, as before."""
    relpaths = [r for r in (_relpath(p, root) for p in paths) if r is not None]
    if not relpaths or not (root / ".git").exists():
        return
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "--stdin", "-z", "--no-index"],
            input="".join(f"{p}\0" for p in relpaths).encode("utf-8", "surrogateescape"),
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    if proc.returncode not in (0, 1):  # 1: none of them is ignored; else git failed
        return
    ignored = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    while len(_primed) >= PRIMED_ROOTS:
        _primed.pop(next(iter(_primed)))
    _primed[(root, _mtime(root / ".gitignore"))] = (
        frozenset(relpaths),
        frozenset(p for p in ignored if p),
    )


def kaizenignore(root: Path) -> pathspec.PathSpec | None:
    """The workspace's ``.kaizenignore`` patterns (re-read when the file changes), or None."""
    return _kaizenignore(root, _mtime(root / ".kaizenignore"))


def _relpath(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def why_not_sent(path: Path, root: Path | None) -> str | None:
    """The reason ``path`` must not be sent to a model, or None when it may be."""
    name = path.name
    if any(fnmatch.fnmatch(name, pattern) for pattern in NEVER_SEND):
        return f"{name} holds secrets by convention"
    if root is None:
        return None
    relpath = _relpath(path, root)
    if relpath is None:
        return None
    spec = _kaizenignore(root, _mtime(root / ".kaizenignore"))
    if spec is not None and spec.match_file(relpath):
        return "matched by .kaizenignore"
    if (root / ".git").exists() and _git_ignored(root, relpath, _mtime(root / ".gitignore")):
        return "ignored by git"
    return None

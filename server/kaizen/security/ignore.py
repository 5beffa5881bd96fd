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


def kaizenignore(root: Path) -> pathspec.PathSpec | None:
    """The workspace's ``.kaizenignore`` patterns (re-read when the file changes), or None."""
    return _kaizenignore(root, _mtime(root / ".kaizenignore"))


def why_not_sent(path: Path, root: Path | None) -> str | None:
    """The reason ``path`` must not be sent to a model, or None when it may be."""
    name = path.name
    if any(fnmatch.fnmatch(name, pattern) for pattern in NEVER_SEND):
        return f"{name} holds secrets by convention"
    if root is None:
        return None
    try:
        relpath = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    spec = _kaizenignore(root, _mtime(root / ".kaizenignore"))
    if spec is not None and spec.match_file(relpath):
        return "matched by .kaizenignore"
    if (root / ".git").exists() and _git_ignored(root, relpath, _mtime(root / ".gitignore")):
        return "ignored by git"
    return None

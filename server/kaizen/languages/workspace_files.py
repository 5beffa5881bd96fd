"""Which files of a workspace the symbol index reads: supported, not ignored, not generated.

Ignored means what git ignores (one ``git ls-files --cached --others --exclude-standard``
for the whole workspace, not a ``git check-ignore`` per file), ``.kaizenignore``, the files
that hold secrets by convention (``security.ignore``), and dependency or build folders
when there is no git. Generated and minified files (``core.generated``) are listed, and
the index keeps them by hash without their definitions: nobody's API.

The walk never follows a symlinked directory (a link loop cannot trap it) and a file that
vanishes between listing and reading is simply not there.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..security.ignore import NEVER_SEND, kaizenignore
from .resolve.base import SKIP_DIRS

log = logging.getLogger(__name__)

NO_GIT_SKIP = SKIP_DIRS | {"dist", "build", "out", "target", "vendor", "coverage", ".next"}
MAX_FILES = 50_000
MAX_BYTES = 1_000_000  # larger sources are bundles or data, not a definition list


def _git_listing(root: Path) -> list[str] | None:
    try:
        proc = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [n for n in dict.fromkeys(names) if n]


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in NO_GIT_SKIP)
        base = Path(dirpath).relative_to(root)
        out.extend((base / f).as_posix() for f in sorted(filenames))
    return out


def listed(root: Path, supported: Callable[[str], bool]) -> list[str]:
    """Relative POSIX paths of the files to index, sorted."""
    names = _git_listing(root) if (root / ".git").exists() else None
    if names is None:
        names = _walk(root)
    ignore = kaizenignore(root)
    out: list[str] = []
    for rel in names:
        name = rel.rsplit("/", 1)[-1]
        if not supported(rel) or any(fnmatch.fnmatch(name, p) for p in NEVER_SEND):
            continue
        if ignore is not None and ignore.match_file(rel):
            continue
        if "node_modules" in rel.split("/"):
            continue
        out.append(rel)
    out.sort()
    if len(out) > MAX_FILES:  # a home directory opened as a workspace, a monorepo's vendor
        log.warning("%s has %d files to index; indexing the first %d", root, len(out), MAX_FILES)
        del out[MAX_FILES:]
    return out


def read_source(path: Path) -> bytes | None:
    """The file's bytes, or None: gone, unreadable, a directory, too large, a symlink into a
    loop. Never raises."""
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_BYTES:
            return None
        return path.read_bytes()
    except (OSError, RuntimeError):
        return None

"""What the findings of ``kaizen check`` depend on besides each file's own text, as digests a
re-run can compare before it imports the pipelines or opens the database.

A file's findings depend on its text, on other files (context packs carry the signatures
of names imported from the workspace; linters read their configuration files; team rules
live in ``.kaizen/``), on the settings (files, environment, command line), on the model
chosen and the prompts (Kaizen's own code), on the linters installed, and on what the
database holds (the unit cache, dismissals, confidence, the router's record). Rather than
track which of those each file used, the key covers all of them, conservatively:

- ``workspace_digest``: every file under each project root (content, not times), except
  version-control internals, caches and installed environments no resolver reads;
- ``environment_digest``: the validated settings, the environment variables that configure
  models, providers and tools, Kaizen's own files, the import path's directories (a package
  installed or removed), the linters' executables, linter and git configuration files in
  the roots' parents and the home directory;
- ``database_stamp``: the SQLite file and its write-ahead log as the last run left them
  (size, inode, times, the log's header). Any write since, by any process (a dismissal, an
  editor's run), changes it. A PostgreSQL database has no such stamp: no fast re-run.

Only digests are kept: a secret in the environment or the settings never reaches the disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config import Settings

# never read by a resolver, a linter or the rules: version control, caches, environments
NOT_WORKSPACE = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".venv",
        "venv",
        "node_modules",
    }
)
HASHED_UP_TO = 4 << 20  # bytes; a larger file is known by its size and times
# the environment that can change a check: models, providers, proxies, tools, Kaizen itself
ENVIRONMENT = re.compile(
    r"KAIZEN|LITELLM|OPENAI|ANTHROPIC|AZURE|GEMINI|VERTEX|GOOGLE|AWS|BEDROCK|OLLAMA|MISTRAL|"
    r"GROQ|COHERE|DEEPSEEK|OPENROUTER|TOGETHER|HUGGING|HF_|XAI|FIREWORKS|_API|_KEY|_TOKEN|"
    r"_BASE|PROXY|RUFF|OXLINT|SHELLCHECK|XDG_|^HOME$|^PATH$|^GIT_|^LANG|^LC_|^PYTHON",
    re.IGNORECASE,
)
# configuration a linter or git reads from a root's parents or the home directory
CONFIG_NAMES = (
    "pyproject.toml",
    "ruff.toml",
    ".ruff.toml",
    "setup.cfg",
    "kaizen.toml",
    ".oxlintrc.json",
    ".shellcheckrc",
    ".editorconfig",
    ".gitignore",
    ".gitconfig",
    ".kaizenignore",
)
HOME_CONFIG = (
    ".config/ruff",
    ".config/git",
    ".config/kaizen",
    ".config/shellcheckrc",
    ".gitconfig",
    ".gitignore",
    ".gitignore_global",
)
LINTER_NAMES = ("ruff", "oxlint", "shellcheck")
INSTALLED = ("site-packages", "dist-packages")
# ns: a database written this close before its stamp is not trusted (see stamp_when_settled)
RACY_NS = 50_000_000


def digest(parts: Iterable[Any]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def file_digest(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def workspace_digest(root: Path, leave_out: Iterable[Path] = ()) -> str:
    """Every file under ``root`` by path and content (``leave_out``: files and folders
    Kaizen itself writes there: a database kept inside the project, this cache, a report
    written with ``--output``)."""
    skip = {str(Path(p).resolve()) for p in leave_out}
    entries: list[Any] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if d not in NOT_WORKSPACE and os.path.join(folder, d) not in skip
        )
        for name in sorted(names):
            path = os.path.join(folder, name)
            # the database beside its -wal and -shm files
            if path in skip or any(path.startswith(s + "-") for s in skip):
                continue
            rel = os.path.relpath(path, root)
            try:
                st = os.stat(path)
                if not stat.S_ISREG(st.st_mode):  # a pipe or a socket: never read (it blocks)
                    entries.append((rel, st.st_mode))
                    continue
                if st.st_size > HASHED_UP_TO:
                    entries.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
                    continue
                with open(path, "rb") as handle:
                    entries.append((rel, file_digest(handle.read())))
            except OSError:  # a dangling link, a file gone meanwhile, a socket
                entries.append((rel, None))
    return digest(entries)


def _files_under(folder: Path) -> list[Any]:
    """Kaizen's own files (code, prompts, queries) by size and times."""
    out: list[Any] = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        out.extend((os.path.join(current, n), _stat(Path(current, n))) for n in sorted(names))
    return out


def environment_digest(
    settings: Settings, roots: Iterable[Path], extra: Any = None
) -> dict[str, str]:
    """Everything but the database that a check's findings depend on, a digest per part
    (so a miss can say which part changed); ``extra``: what the command line chose and the
    workspace's digest."""
    from .. import __version__
    from ..pipelines.linters.process import find_binary

    kaizen_dir = Path(__file__).resolve().parent.parent
    linters: list[Any] = []
    for name in LINTER_NAMES:
        binary = find_binary(name)
        linters.append((name, binary, _stat(Path(binary)) if binary else None))
    configs: list[Any] = []
    for root in sorted(set(roots)):
        for folder in root.parents:
            configs.extend((str(folder / n), _stat(folder / n)) for n in CONFIG_NAMES)
    home = Path.home()
    for name in HOME_CONFIG:
        target = home / name
        configs.extend(_files_under(target) if target.is_dir() else [(name, _stat(target))])
    if xdg := os.environ.get("XDG_CONFIG_HOME"):
        for name in ("ruff", "git", "kaizen"):
            configs.extend(_files_under(Path(xdg) / name))
    # a package installed, upgraded or removed changes its installation directory
    installed = [
        (p, _stat(Path(p))) for p in sys.path if p.endswith(INSTALLED) and os.path.isdir(p)
    ]
    parts = {
        "python": [__version__, sys.version, sys.executable, os.getcwd(), installed],
        "settings": settings.model_dump_json(),
        "environment": sorted((k, v) for k, v in os.environ.items() if ENVIRONMENT.search(k)),
        "kaizen": _files_under(kaizen_dir),
        "linters": linters,
        "configuration": configs,
        "command": extra,
    }
    return {name: digest([value]) for name, value in parts.items()}


def database_file(location: str | None) -> Path | None:
    """The SQLite file the settings name (``memory.db.database_url``'s rule, without
    importing SQLAlchemy), or None for another database (no stamp: no fast re-run). The
    caller checks it against the file the store really opened before trusting it."""
    text = location or ""
    if not text:
        if home := os.environ.get("KAIZEN_HOME"):
            return Path(home) / "kaizen.db"
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "kaizen" / "kaizen.db"
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///")).expanduser()
    if "://" in text:
        return None
    return Path(text).expanduser()


def database_stamp(db: Path) -> list[Any] | None:
    """The database as it is now: its file and its write-ahead log (size, times, inode, the
    log's header: a checkpoint that restarts the log changes its salts). None: no database."""
    main = _stat(db)
    if main is None:
        return None
    wal = db.with_name(db.name + "-wal")
    header = b""
    try:
        with open(db, "rb") as handle:
            header = handle.read(100)
        with open(wal, "rb") as handle:
            header += handle.read(32)
    except OSError:
        pass
    return [main, _stat(wal), header.hex()]


def stamp_when_settled(db: Path) -> tuple[list[Any], int] | None:
    """The database's stamp once its last write is older than a file time's resolution,
    with when it was taken: a write after the stamp can then never leave the same times
    (git's "racily clean" problem). ``trustworthy`` refuses a stamp taken too early."""
    for _ in range(10):
        stamp = database_stamp(db)
        if stamp is None:
            return None
        now = time.time_ns()
        wait_ns = max(s[1] for s in stamp[:2] if s is not None) + RACY_NS - now
        if wait_ns <= 0:
            return stamp, now
        time.sleep(min(wait_ns, RACY_NS) / 1e9)
    return None


def trustworthy(stamp: list[Any], taken_ns: int) -> bool:
    """Whether the stamp was taken well after the database's last write (see above)."""
    newest = max(s[1] for s in stamp[:2] if s is not None)
    return taken_ns - newest >= RACY_NS


def outcomes_digest(db: Path) -> str | None:
    """The outcomes users gave findings (dismissed, accepted, fixed by hand): read before
    and after a run, a difference means another process recorded one meanwhile, which the
    run may have seen for some files and not others; such a run stores nothing. Read with
    the SQLite library the store uses (two copies of SQLite in one process break each
    other's locks); None when the database cannot be read."""
    from ..memory.db import sqlite_module

    sqlite = sqlite_module()
    if not db.is_file():
        return None
    try:
        conn = sqlite.connect(str(db), timeout=5)
    except sqlite.Error:
        return None
    try:
        rows = conn.execute(
            "SELECT status, count(*), max(updated_at) FROM findings "
            "WHERE status != 'open' GROUP BY status ORDER BY status"
        ).fetchall()
    except sqlite.Error:
        return None
    finally:
        conn.close()
    return digest(rows)

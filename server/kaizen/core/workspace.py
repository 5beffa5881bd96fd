"""Where a file lives: its project root, the repository identity learnings are scoped by, and
its language. Pure file-system reads (no ``git`` subprocess) so it is cheap on every run.
"""

from __future__ import annotations

import configparser
import re
from functools import lru_cache
from pathlib import Path

from .language_table import ENTRIES, LanguageEntry

# derived from the one table (language_table.py), never edited here
LANGUAGES: dict[str, str] = {ext: e.name for e in ENTRIES for ext in e.extensions}
_BY_NAME: dict[str, LanguageEntry] = {e.name: e for e in ENTRIES}
_BY_FILENAME: dict[str, str] = {f: e.name for e in ENTRIES for f in e.filenames}
_BY_LSP_ID: dict[str, str] = {i: e.name for e in ENTRIES for i in e.lsp_ids}
ROOT_MARKERS = (".git", "pyproject.toml", "kaizen.toml", "package.json", "go.mod", "Cargo.toml")


def language_of(path: Path, language_id: str | None = None) -> str:
    """Kaizen's name for a document's language: the editor's language id when the table
    knows it (``typescriptreact`` -> ``tsx``), else the file name or extension, else the id
    as given, else ``text``."""
    if language_id and (name := _BY_LSP_ID.get(language_id)):
        return name
    name = _BY_FILENAME.get(path.name) or LANGUAGES.get(path.suffix.lower())
    if name:
        return name
    if language_id and language_id != "plaintext":
        return language_id
    return "text"


def language_entry(language_or_path: str | Path) -> LanguageEntry | None:
    """The table's entry for a language name, an LSP language id or a path."""
    if isinstance(language_or_path, str):
        if entry := _BY_NAME.get(language_or_path):
            return entry
        if name := _BY_LSP_ID.get(language_or_path):
            return _BY_NAME[name]
        if not any(c in language_or_path for c in "/.\\") and (
            language_or_path not in _BY_FILENAME
        ):
            return None
        language_or_path = Path(language_or_path)
    return _BY_NAME.get(language_of(language_or_path))


@lru_cache(maxsize=256)
def project_root(directory: Path) -> Path | None:
    """The nearest ancestor holding a .git, else a project file; None outside any project."""
    fallback: Path | None = None
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
        if fallback is None and any((candidate / m).exists() for m in ROOT_MARKERS[1:]):
            fallback = candidate
    return fallback


_REMOTE = re.compile(r"^(?:[a-z+]+://)?(?:[^@/]+@)?([^/:]+)[:/](.+?)(?:\.git)?/?$")


def normalise_remote(url: str) -> str:
    """``git@github.com:acme/w.git`` and ``https://github.com/acme/w`` -> ``github.com/acme/w``."""
    if m := _REMOTE.match(url.strip()):
        return f"{m.group(1).lower()}/{m.group(2)}"
    return url.strip()


def repository_key(value: str) -> str:
    """A repository as a user types it, in the form learnings are stored under.

    ``acme/widgets``, ``github.com/acme/widgets``, ``https://github.com/acme/widgets.git``
    and ``git@github.com:acme/widgets.git`` all name ``github.com/acme/widgets`` (an
    ``owner/name`` pair means GitHub, the host ``repository_id`` records most often); a
    local path (a repository without a remote) is kept as it is.
    """
    text = value.strip()
    if not text or text.startswith(("/", "~", ".")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return text
    if "://" in text or "@" in text:
        return normalise_remote(text)
    text = text.removesuffix("/").removesuffix(".git")
    parts = text.split("/")
    if len(parts) == 2 and "." not in parts[0]:
        return f"github.com/{text}"
    return normalise_remote(text) if len(parts) > 2 else text


@lru_cache(maxsize=256)
def repository_id(root: Path | None) -> str:
    """The origin remote (normalised) if any, so clones share learnings; else the path."""
    if root is None:
        return ""
    config = root / ".git" / "config"
    if config.is_file():
        parser = configparser.ConfigParser(strict=False)
        try:
            parser.read(config, encoding="utf-8")
            url = parser.get('remote "origin"', "url", fallback="")
        except (configparser.Error, OSError, UnicodeDecodeError):
            url = ""
        if url:
            return normalise_remote(url)
    return str(root)


def relative_path(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name

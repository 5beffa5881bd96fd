"""Where a file lives: its project root, the repository identity learnings are scoped by, and
its language. Pure file-system reads (no ``git`` subprocess) so it is cheap on every run.
"""

from __future__ import annotations

import configparser
import re
from functools import lru_cache
from pathlib import Path

LANGUAGES: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".php": "php",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".swift": "swift",
    ".scala": "scala",
    ".sh": "shell",
    ".sql": "sql",
}
ROOT_MARKERS = (".git", "pyproject.toml", "kaizen.toml", "package.json", "go.mod", "Cargo.toml")


def language_of(path: Path, language_id: str | None = None) -> str:
    if language_id and language_id not in ("plaintext", ""):
        return language_id
    return LANGUAGES.get(path.suffix.lower(), "text")


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

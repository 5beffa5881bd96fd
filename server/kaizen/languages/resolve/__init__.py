"""Import resolvers, one per language family, named in the language table by ``resolver``.

Each resolver module has ``resolve(spec, here, root) -> list[Path]`` (the workspace files
an import spec, as written, may name; [] for a library or an undecidable import) and
``neighbours(here, root) -> list[Path]`` (files whose definitions a file sees without any
import: Go's package, Java's package directory, C#'s namespace). They read paths and small
project files only (go.mod, tsconfig.json, compile_commands.json, composer.json), never
parse code, so they are tested on workspaces written by the test without tree-sitter.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from ..table import entry_for
from . import cfamily, csharp, go, jvm, php, ruby, rust, typescript
from .base import closeness, closest

RESOLVERS: dict[str, ModuleType] = {
    "node": typescript,
    "go": go,
    "rust": rust,
    "jvm": jvm,
    "c": cfamily,
    "csharp": csharp,
    "ruby": ruby,
    "php": php,
}

# The resolver of an LSP language id the table does not know by name (the table's
# ``resolver`` field wins).
DEFAULT_RESOLVER: dict[str, str] = {
    "typescript": "node",
    "tsx": "node",
    "javascript": "node",
    "javascriptreact": "node",
    "typescriptreact": "node",
    "go": "go",
    "rust": "rust",
    "java": "jvm",
    "kotlin": "jvm",
    "c": "c",
    "cpp": "c",
    "csharp": "csharp",
    "ruby": "ruby",
    "php": "php",
}

# How an import spec and an imported name join into a longer spec (``a.b`` + ``C``).
JOINS: dict[str, str] = {"jvm": ".", "csharp": ".", "php": "\\", "rust": "::"}


def resolver_name(language: str) -> str | None:
    """The resolver the language table names for ``language`` (None: no resolver)."""
    entry = entry_for(language)
    name = entry.resolver if entry is not None else ""
    if name in RESOLVERS:
        return name
    return DEFAULT_RESOLVER.get(language)


def resolve(resolver: str, spec: str, here: Path, root: Path | None) -> list[Path]:
    module = RESOLVERS.get(resolver)
    if module is None:
        return []
    try:
        return list(module.resolve(spec, here, root))
    except (OSError, RuntimeError, ValueError):  # a vanished file, a symlink loop
        return []


def neighbours(resolver: str, here: Path, root: Path | None) -> list[Path]:
    module = RESOLVERS.get(resolver)
    if module is None:
        return []
    try:
        return list(module.neighbours(here, root))
    except (OSError, RuntimeError, ValueError):
        return []


__all__ = ["JOINS", "RESOLVERS", "closeness", "closest", "neighbours", "resolve", "resolver_name"]

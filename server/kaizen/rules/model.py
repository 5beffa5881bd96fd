"""One team rule, wherever it was written, and the glob matching every rule uses.

A rule comes from an instruction file (``AGENTS.md``, ``CLAUDE.md``, Copilot's instruction
files) or from Kaizen's own ``.kaizen/rules/*.md`` (front matter ``id``, ``paths``,
``severity``, ``category``, ``enabled``, ``action``). Its ``origin`` says who made it:
``written`` by the team, ``learned`` from outcomes and accepted (``learned.md``), or
``promoted`` (a learned fix turned ast-grep rule, ``.kaizen/rules/*.yml``).

Globs are gitignore-style (``tests/**``, ``*.py``, ``src/**/*.ts``), matched by pathspec
against the path relative to the folder the rule file applies to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pathspec

Origin = Literal["written", "learned", "promoted"]
Action = Literal["instruct", "suppress"]
LEARNED_FILE = "learned.md"


@lru_cache(maxsize=1024)
def _spec(globs: tuple[str, ...]) -> pathspec.PathSpec:
    try:  # pathspec >= 0.12.2 names git's own semantics "gitignore"
        return pathspec.PathSpec.from_lines("gitignore", globs)
    except (KeyError, LookupError):
        return pathspec.PathSpec.from_lines("gitwildmatch", globs)


def glob_match(globs: tuple[str, ...] | list[str], relpath: str) -> bool:
    """True when ``relpath`` (posix, relative) matches one of ``globs``; no globs: all."""
    globs = tuple(g.strip() for g in globs if g and g.strip())
    if not globs:
        return True
    return _spec(globs).match_file(relpath)


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    file: Path  # the file it was read from
    line: int  # 1-based line of the file where it starts
    base: str = ""  # the folder (posix, relative to the root) its globs are relative to
    paths: tuple[str, ...] = ()  # globs; () applies everywhere under ``base``
    severity: str | None = None
    category: str | None = None
    enabled: bool = True
    action: Action = "instruct"
    origin: Origin = "written"
    evidence: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def uri(self) -> str:
        return self.file.resolve().as_uri()

    def applies_to(self, relpath: str) -> bool:
        """Under the rule's folder, and matching its globs."""
        if self.base:
            prefix = self.base.rstrip("/") + "/"
            if not relpath.startswith(prefix):
                return False
            relpath = relpath[len(prefix) :]
        return glob_match(self.paths, relpath)

    def covers(self, code: str, category: str) -> bool:
        """A suppressing rule's category names this finding (its code or its category)."""
        return bool(self.category) and self.category in (code, category)

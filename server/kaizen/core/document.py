"""A document snapshot and the learnings block: the vocabulary every layer shares.

``Document`` is one document at one version (runs never see later edits), with the facts
derived from its path (project root, repository id, language) and its redacted form, the
only form of the code that leaves the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .findings import split_lines
from .generated import why_generated
from .workspace import language_entry, language_of, project_root, relative_path, repository_id


@dataclass
class Document:
    """A snapshot of one document at one version: runs never see later edits."""

    uri: str
    path: Path
    text: str
    version: int | None = None
    language_id: str | None = None
    # 1-based lines a diff touched (``kaizen check --diff``); None: the whole document
    changed: frozenset[int] | None = None

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    @cached_property
    def _redaction(self) -> tuple[list[str], set[int]]:
        from ..security.redact import redact_lines

        return redact_lines(self.lines)

    @property
    def safe_lines(self) -> list[str]:
        """The lines with secrets redacted: the only form of the code that leaves the machine."""
        return self._redaction[0]

    @property
    def redacted(self) -> set[int]:
        """0-based indexes of lines that had a secret: no model edit may touch them."""
        return self._redaction[1]

    @cached_property
    def not_sent_reason(self) -> str | None:
        """Why this document must not go to a model at all (.env, .gitignore, .kaizenignore,
        generated or minified code)."""
        from ..security.ignore import why_not_sent

        return why_not_sent(self.path, self.root) or why_generated(
            self.path, self.text, self.root, language_entry(self.language)
        )

    @cached_property
    def root(self) -> Path | None:
        return project_root(self.path.parent)

    @cached_property
    def repository(self) -> str:
        return repository_id(self.root)

    @cached_property
    def relpath(self) -> str:
        return relative_path(self.path, self.root)

    @cached_property
    def language(self) -> str:
        return language_of(self.path, self.language_id)


@dataclass
class Learnings:
    """The "Historical learnings" block for one prompt and the insights it was built from."""

    block: str = ""
    insight_ids: list[int] = field(default_factory=list)

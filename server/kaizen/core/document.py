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

    def within(self, tokens: int) -> Learnings:
        """The block cut to its header and the lines (most relevant first) that fit in
        ``tokens`` (4 characters each), with the ids of those lines only."""
        if not self.block or len(self.block) <= tokens * 4:
            return self
        header, *lines = self.block.rstrip("\n").split("\n")
        kept, used = [header], len(header) + 1
        for line in lines[: len(self.insight_ids)]:
            used += len(line) + 1
            if used > tokens * 4:
                break
            kept.append(line)
        if len(kept) == 1:
            return Learnings()
        return Learnings("\n".join(kept) + "\n", self.insight_ids[: len(kept) - 1])


@dataclass
class AppliedRules:
    """The team rules that apply to one document (``rules/``): the prompt block, the ids a
    finding may cite (id -> the URI of the file it comes from), a digest of the block (part
    of the review cache key, so editing a rule re-reviews) and problems to tell the user."""

    block: str = ""
    cited: dict[str, str] = field(default_factory=dict)
    digest: str = ""
    problems: list[str] = field(default_factory=list)
    ignored: str | None = None  # why the document is not reviewed at all (review.ignore)

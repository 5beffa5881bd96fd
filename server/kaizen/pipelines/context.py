"""What a pipeline run needs from the outside world, passed in explicitly.

The editor face and the CLI build a ``RunContext``; pipelines never import LSP types, never
open their own database and never read settings from globals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..config import Settings
from ..models.gateway import CallOutcome
from ..models.router import ModelRouter
from ..workspace import language_of, project_root, relative_path, repository_id
from .findings import Finding, split_lines
from .run import RunStatus

log = logging.getLogger(__name__)


@dataclass
class Document:
    """A snapshot of one document at one version: runs never see later edits."""

    uri: str
    path: Path
    text: str
    version: int | None = None
    language_id: str | None = None

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
        """Why this document must not go to a model at all (.env, .gitignore, .kaizenignore)."""
        from ..security.ignore import why_not_sent

        return why_not_sent(self.path, self.root)

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


LearningsProvider = Callable[[Document, str, str], Awaitable[Learnings]]
StaticAnalyzer = Callable[[Document], Awaitable[list[Finding]]]
Suppressor = Callable[[Document, list[Finding]], Awaitable[list[Finding]]]
Recorder = Callable[..., Awaitable[Any]]


async def _no_learnings(_doc: Document, _task: str, _query: str) -> Learnings:
    return Learnings()


async def _no_static(_doc: Document) -> list[Finding]:
    return []


async def _keep_all(_doc: Document, findings: list[Finding]) -> list[Finding]:
    return findings


@dataclass
class RunContext:
    settings: Settings
    router: ModelRouter
    store: Any = None  # memory.store.Store | None: runs are recorded when present
    learnings: LearningsProvider = _no_learnings
    static: StaticAnalyzer = _no_static
    suppress: Suppressor = _keep_all
    on_status: Callable[[RunStatus, str | None], None] = lambda _s, _m: None
    on_notice: Callable[[str], None] = lambda _m: None
    on_attempt: Callable[[CallOutcome, int | None], Awaitable[None]] | None = None
    after_run: Callable[[Any, Document], Awaitable[None]] | None = None

    async def db(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run a store method on a thread; without a store, do nothing.

        A storage fault (locked, read-only, disk full) costs the record, never the review:
        it is logged, reported once through ``on_notice`` and the run goes on.
        """
        if self.store is None:
            return None
        try:
            return await asyncio.to_thread(getattr(self.store, method), *args, **kwargs)
        except Exception as exc:
            log.warning("storage %s failed: %s", method, exc)
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            self.on_notice(
                f"Kaizen could not write to its database ({reason}); results are shown but "
                "this run is not remembered"
            )
            return None

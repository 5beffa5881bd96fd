"""What a pipeline run needs from the outside world, passed in explicitly.

The editor face and the CLI build a ``RunContext``; pipelines never import LSP types, never
open their own database and never read settings from globals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..core.document import AppliedRules, Document, Learnings
from ..core.findings import Finding
from ..core.runs import RunStatus
from ..models.gateway import CallOutcome
from ..models.router import ModelRouter

log = logging.getLogger(__name__)


LearningsProvider = Callable[[Document, str, str], Awaitable[Learnings]]
StaticAnalyzer = Callable[[Document], Awaitable[list[Finding]]]
Suppressor = Callable[[Document, list[Finding]], Awaitable[list[Finding]]]
# (document, findings) -> (shown, hidden): confidence learned from outcomes
Weigher = Callable[[Document, list[Finding]], Awaitable[tuple[list[Finding], list[Finding]]]]
Recorder = Callable[..., Awaitable[Any]]
# (model, task, {drop kind: count}): findings of one answer dropped by grounding
DropRecorder = Callable[[str, str, dict[str, int]], Awaitable[None]]
# the team rules (instruction files, learned rules) that apply to a document: rules/
RulesProvider = Callable[[Document], Awaitable[AppliedRules]]


async def _no_rules(_doc: Document) -> AppliedRules:
    return AppliedRules()


async def _no_learnings(_doc: Document, _task: str, _query: str) -> Learnings:
    return Learnings()


async def _no_static(_doc: Document) -> list[Finding]:
    return []


async def _keep_all(_doc: Document, findings: list[Finding]) -> list[Finding]:
    return findings


async def _show_all(
    _doc: Document, findings: list[Finding]
) -> tuple[list[Finding], list[Finding]]:
    return findings, []


@dataclass
class RunContext:
    settings: Settings
    router: ModelRouter
    store: Any = None  # memory.store.Store | None: runs are recorded when present
    learnings: LearningsProvider = _no_learnings
    static: StaticAnalyzer = _no_static
    suppress: Suppressor = _keep_all
    weigh: Weigher = _show_all
    on_status: Callable[[RunStatus, str | None], None] = lambda _s, _m: None
    on_notice: Callable[[str], None] = lambda _m: None
    on_progress: Callable[[str], None] = lambda _m: None
    on_attempt: Callable[[CallOutcome, int | None], Awaitable[None]] | None = None
    after_run: Callable[[Any, Document], Awaitable[None]] | None = None
    # the findings are put before a user who can act on them (editor); a callable is asked
    # when the run ends (False: the document moved on, so this run's result is never shown)
    shown: bool | Callable[[], bool] = False
    on_dropped: DropRecorder | None = None
    rules: RulesProvider = _no_rules
    symbols: Any = None  # languages.symbols.SymbolIndex | None: the workspace's definitions

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

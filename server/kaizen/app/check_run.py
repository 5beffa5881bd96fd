"""Reviewing many files at once, the way ``kaizen check`` does it in CI: bounded
concurrency, a stable shard of the files, what each run reviewed and took from the cache.

Files run concurrently up to ``jobs`` (the gateway also bounds requests per provider with
``models.maxConcurrency``), and the results come back in the order of the files given, so
the output is the same whatever order the runs finished in. A run is cancelled cleanly
(its record says so) when the caller is interrupted; what finished is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.document import Document
from ..core.runs import RunResult

if TYPE_CHECKING:  # the pipelines are imported when files are reviewed, not before
    from .services import Services

DEFAULT_JOBS = 8
log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Counts a progress display shows; updated as runs start and finish."""

    files: int = 0
    done: int = 0
    in_flight: int = 0
    reviewed: int = 0  # units a model answered (not merely sent: see ``unanswered``)
    unanswered: int = 0  # units sent to a model that gave no valid answer
    cached: int = 0  # units answered from the review cache
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    notices: list[str] = field(default_factory=list)
    storage_faults: int = 0  # database writes that failed (a run not remembered)

    def storage_fault(self, _message: str) -> None:
        self.storage_faults += 1


def in_shard(path: Path, index: int, total: int) -> bool:
    """Shard ``index`` of ``total`` (1-based) by a hash of the path: stable across runs and
    machines, independent of the order files are listed in."""
    digest = hashlib.sha1(path.as_posix().encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % total == index - 1


async def index_workspace(services: Services, docs: list[Document]) -> None:
    """The workspace symbol index, built (or brought up to date from the database) once,
    before any file is planned, when a document's language resolves imports through it."""
    from ..languages.resolve import resolver_name

    roots = [d.root for d in docs if d.root is not None and resolver_name(d.language)]
    if not roots:
        return
    root = max(set(roots), key=roots.count)  # one index: the root most documents are in
    try:
        await services.workspace_symbols(root).build()
    except Exception:  # no index: packs resolve imports from the files themselves
        log.exception("could not index %s", root)


def prime_ignores(docs: list[Document]) -> None:
    """Whether git ignores each document (such a file is never sent to a model), asked in
    one ``git check-ignore`` per repository instead of one process per file. A document
    that already knows (``not_sent_reason`` is a cached property: the check cache's key
    asked it) costs nothing."""
    from ..security.ignore import prime_git_ignored

    by_root: dict[Path, list[Path]] = {}
    for d in docs:
        if d.root is not None and "not_sent_reason" not in vars(d):
            by_root.setdefault(d.root, []).append(d.path)
    for root, paths in by_root.items():
        prime_git_ignored(root, paths)


async def review_documents(
    services: Services,
    docs: list[Document],
    pipelines: list[str],
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
    on_change: Callable[[Progress], None] | None = None,
    done: list[tuple[Document, RunResult]] | None = None,
) -> list[tuple[Document, RunResult]]:
    """Every pipeline on every document, ``jobs`` at a time; results in input order.

    ``done`` (if given) collects results as they finish, so an interrupted caller still has
    what completed."""
    from ..languages.parsed import workspace_snapshot

    state = progress or Progress()
    state.files = len(docs)
    with workspace_snapshot():  # each import resolved once, each module parsed once
        return await _review(services, docs, pipelines, jobs, state, on_change, done)


async def _review(
    services: Services,
    docs: list[Document],
    pipelines: list[str],
    jobs: int,
    state: Progress,
    on_change: Callable[[Progress], None] | None,
    done: list[tuple[Document, RunResult]] | None,
) -> list[tuple[Document, RunResult]]:
    from ..pipelines import registry

    await asyncio.to_thread(prime_ignores, docs)
    await index_workspace(services, docs)
    gate = asyncio.Semaphore(max(1, jobs))
    slots: list[list[tuple[Document, RunResult]]] = [[] for _ in docs]

    def changed() -> None:
        if on_change is not None:
            on_change(state)

    async def one(i: int, doc: Document) -> None:
        async with gate:
            state.in_flight += 1
            changed()
            try:
                for pipeline in pipelines:
                    # the context's after_run learns from the run, as in the editor
                    context = services.context(on_notice=state.storage_fault)
                    result = await registry.run(pipeline, doc, context)
                    slots[i].append((doc, result))
                    if done is not None:
                        done.append((doc, result))
                    state.reviewed += result.units_answered
                    state.unanswered += max(0, result.units_reviewed - result.units_answered)
                    state.cached += result.units_cached
                    state.prompt_tokens += result.totals.prompt_tokens
                    state.completion_tokens += result.totals.completion_tokens
                    state.cost_usd += result.totals.cost_usd
            finally:
                state.in_flight -= 1
                state.done += 1
                changed()

    await asyncio.gather(*(one(i, doc) for i, doc in enumerate(docs)))
    return [pair for slot in slots for pair in slot]

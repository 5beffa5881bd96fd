"""When runs happen and what the user sees while they do.

A run per document and pipeline is scheduled on open/save (and on change after a debounce
when enabled); a newer event cancels the older run for the same URI. Results are published
only if the document is still at the version that was analysed. Progress goes out as LSP
work-done progress and, when asked for, as ``kaizen/status`` notifications. Learning from a
run (insights, embeddings, auto PRs) happens after its result is on screen.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from lsprotocol import types

from ..core.document import Document
from ..core.runs import RunStatus, phase_of
from ..pipelines import registry
from ..pipelines.base import RunResult
from .session import Session

STORE_WAIT_S = 60
log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, server: Session) -> None:
        self.server = server
        self.tasks: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self.running: dict[tuple[str, str], str] = {}  # (uri, pipeline) -> phase
        self.learning: set[asyncio.Task[Any]] = set()  # insight recording after a publish

    def schedule(
        self, uri: str, delay_s: float = 0.0, pipeline: str = "autofix"
    ) -> asyncio.Task[Any]:
        key = (uri, pipeline)
        if (old := self.tasks.pop(key, None)) is not None:
            old.cancel()
        task = self.server.spawn(self._run_after(uri, pipeline, delay_s))
        self.tasks[key] = task
        return task

    def cancel(self, uri: str) -> None:
        for key in [k for k in self.tasks if k[0] == uri]:
            self.tasks.pop(key).cancel()

    def pending(self) -> list[str]:
        """URIs with a run scheduled or in progress (its final publish still to come)."""
        return sorted({uri for (uri, _), task in self.tasks.items() if not task.done()})

    def running_list(self) -> list[dict[str, str]]:
        return [
            {"uri": uri, "pipeline": pipeline, "phase": phase}
            for (uri, pipeline), phase in self.running.items()
        ]

    async def wait_for_learning(self, timeout_s: float = 30) -> None:
        if self.learning:
            await asyncio.wait(list(self.learning), timeout=timeout_s)

    async def _run_after(self, uri: str, pipeline: str, delay_s: float) -> RunResult | None:
        server = self.server
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        doc = server.snapshot(uri)
        if doc is None:
            return None
        # the progress token's round trip to the client overlaps the instant view
        beginning = asyncio.ensure_future(self.begin_progress(pipeline))
        try:
            # callees' signatures as the editor has them (the instant view's plan is the run's)
            await server.symbol_updates.flush(reviewing=uri)
            await self.publish_instant(doc, pipeline)
            await asyncio.wait_for(server.store_ready.wait(), timeout=STORE_WAIT_S)
            progress = await asyncio.shield(beginning)
        except BaseException:  # cancelled by a newer edit (or no store): no progress left open
            beginning.add_done_callback(self._end_unused)
            beginning.cancel()
            raise
        key = (uri, pipeline)

        def on_status(status: RunStatus, model: str | None) -> None:
            phase = phase_of(status)
            self.running[key] = phase
            self.report(progress, uri, pipeline, phase, model)

        def on_progress(message: str) -> None:
            if progress is not None and not self.closing:
                server.work_done_progress.report(
                    progress, types.WorkDoneProgressReport(message=message)
                )

        result = None
        try:
            result = await self._run(pipeline, doc, on_status, on_progress)
        finally:
            self.running.pop(key, None)
            self.end_progress(progress, uri, pipeline, result)
            if self.tasks.get(key) is asyncio.current_task():
                self.tasks.pop(key, None)
        for notice in result.notices:
            server.notify_once(notice, types.MessageType.Warning)
        # a skipped document (too large, binary) was said once as a notice: not a failure too
        if (
            result.status == RunStatus.FAILED
            and result.error
            and result.error not in result.notices
        ):
            server.report_failure(pipeline, doc, result)
        current = server.workspace.text_documents.get(uri)
        store = server.services.store
        if current is None or current.version != doc.version:
            if result.run_id is not None and store is not None:
                await asyncio.to_thread(store.set_status, result.run_id, RunStatus.STALE)
        else:
            server.published.publish(doc, pipeline, result.findings)
        task = server.spawn(self.learn_from(result, doc))
        self.learning.add(task)
        task.add_done_callback(self.learning.discard)
        return result

    async def learn_from(self, result: RunResult, doc: Document) -> None:
        shown = len(result.notices)
        await self.server.services.after_run(result, doc)
        for notice in result.notices[shown:]:
            self.server.notify_once(notice, types.MessageType.Info)

    async def publish_instant(self, doc: Document, pipeline: str) -> None:
        """Show at once what needs no model (static findings, cached units); the model's
        findings follow in a later publish for the same version."""
        server = self.server
        try:
            early = await server.services.instant(doc, pipeline)
        except Exception:  # the instant view is a courtesy: the run below still happens
            log.exception("could not compute the instant findings of %s", doc.uri)
            server.first_paint.set()
            return
        current = server.workspace.text_documents.get(doc.uri)
        if current is None or current.version != doc.version:
            return
        if early or server.published.get(doc.uri) is not None:  # an empty first view says nothing
            server.published.publish(doc, pipeline, early, partial=True)
        server.first_paint.set()

    async def _run(
        self, pipeline: str, doc: Document, on_status: Any, on_progress: Any = None
    ) -> RunResult:
        server = self.server
        ctx = server.services.context(
            on_status=on_status,
            on_notice=lambda message: server.notify_once(message, types.MessageType.Warning),
            on_progress=on_progress,
            # a showing counts only when this run's result can still be published: a run
            # made stale by typing is never on screen (and must not make a finding "ignored")
            shown=lambda: self._current(doc),
        )
        ctx.after_run = None  # run by learn_from, once the result is published
        return await registry.run(pipeline, doc, ctx)

    def _current(self, doc: Document) -> bool:
        current = self.server.workspace.text_documents.get(doc.uri)
        return current is not None and current.version == doc.version

    # progress ---------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """The client asked the server to shut down: runs cancelled now tell nobody (a
        write to the closed pipe at exit makes pygls report errors about reporting)."""
        return bool(getattr(self.server.protocol, "_shutdown", False))

    def _end_unused(self, beginning: asyncio.Future[str | None]) -> None:
        """A progress begun for a run that never started is ended at once (unless the
        server is going: nobody listens, and a write to a closed pipe only adds noise)."""
        if beginning.cancelled() or beginning.exception() is not None:
            return
        if self.closing:
            return
        if (token := beginning.result()) is not None:
            self.server.work_done_progress.end(token, types.WorkDoneProgressEnd())

    async def begin_progress(self, pipeline: str) -> str | None:
        server = self.server
        if not server.supports("window", "work_done_progress"):
            return None
        token = f"kaizen-{uuid.uuid4().hex[:12]}"
        try:
            await server.work_done_progress.create_async(token)
        except Exception:
            return None
        server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title="Kaizen", message=f"{pipeline}: scan")
        )
        return token

    def report(
        self, token: str | None, uri: str, pipeline: str, phase: str, model: str | None
    ) -> None:
        if self.closing:
            return
        if token is not None and phase != "done":
            suffix = f" ({model})" if model else ""
            self.server.work_done_progress.report(
                token, types.WorkDoneProgressReport(message=f"{pipeline}: {phase}{suffix}")
            )
        self.status_notification(uri, pipeline, phase, model)

    def end_progress(
        self, token: str | None, uri: str, pipeline: str, result: RunResult | None = None
    ) -> None:
        if self.closing:
            return
        if token is not None:
            self.server.work_done_progress.end(token, types.WorkDoneProgressEnd())
        cost = None
        if result is not None:  # what the run was predicted to cost, and did cost
            totals = result.totals
            cost = {"predictedCostUsd": totals.predicted_cost_usd, "costUsd": totals.cost_usd}
        self.status_notification(uri, pipeline, "idle", None, cost)

    def status_notification(
        self,
        uri: str,
        pipeline: str,
        phase: str,
        model: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if not self.server.settings.status_notifications:
            return
        provider = model.split("/", 1)[0] if model and "/" in model else None
        self.server.protocol.notify(
            "kaizen/status",
            {
                "uri": uri,
                "pipeline": pipeline,
                "phase": phase,
                "provider": provider,
                "model": model,
                **(extra or {}),
            },
        )

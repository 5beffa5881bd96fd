"""KaizenServer: document events in, diagnostics and code actions out.

Handlers stay thin. A run per document is scheduled on open/save (and on change after a
debounce when enabled); a newer event cancels the older run for the same URI, and results
are published only if the document is still at the version that was analysed. Nothing slow
happens before ``initialize`` is answered: the database opens and litellm imports in the
background after ``initialized``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__
from ..config import Settings, deep_merge, load_settings
from ..models.llm import warm_up_in_background
from ..pipelines.autofix import run_autofix
from ..pipelines.base import RunResult
from ..pipelines.context import Document
from ..pipelines.findings import Finding
from ..pipelines.run import RunStatus, phase_of
from ..services import Services
from . import convert

log = logging.getLogger(__name__)


@dataclass
class Published:
    """What was last published for a URI: the lines it was computed on and its findings."""

    version: int | None
    text: str
    lines: list[str]
    findings: dict[str, Finding] = field(default_factory=dict)


class KaizenServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("kaizen", __version__)
        self.services = Services(Settings())
        self.editor_options: dict[str, Any] = {}
        self.root: Path | None = None
        self.tasks: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self.background: set[asyncio.Task[Any]] = set()
        self.published: dict[str, Published] = {}
        self.store_ready = asyncio.Event()
        self.notified: set[str] = set()
        self.running: dict[tuple[str, str], str] = {}
        self.learning: set[asyncio.Task[Any]] = set()  # insight recording after a publish

    @property
    def settings(self) -> Settings:
        return self.services.settings

    # settings ---------------------------------------------------------------------------

    def apply_settings(self, editor: dict[str, Any] | None) -> None:
        if editor is not None:
            self.editor_options = editor
        settings, problems = load_settings(self.root, self.editor_options)
        self.services.update_settings(settings)
        for problem in problems:
            self.notify_once(problem, types.MessageType.Warning)

    def supports(self, *path: str) -> bool:
        node: Any = self.client_capabilities
        for name in path:
            node = getattr(node, name, None)
            if node is None:
                return False
        return bool(node)

    # messages ---------------------------------------------------------------------------

    def notify_once(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """Show a message once per session: repeated runs must not nag."""
        if message in self.notified:
            return
        self.notified.add(message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def report_failure(self, pipeline: str, doc: Document, result: RunResult) -> None:
        """Tell the user once per kind of failure, not once per file or per save."""
        error = result.error or ""
        kind = error.split(":", 1)[0] if ":" in error else error
        key = f"{pipeline}:{result.totals.model}:{kind[:80]}"
        self.window_log_message(
            types.LogMessageParams(
                type=types.MessageType.Warning,
                message=f"Kaizen {pipeline} failed on {doc.relpath}: {error}",
            )
        )
        if key in self.notified:
            return
        self.notified.add(key)
        self.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Warning,
                message=f"Kaizen {pipeline} failed on {doc.relpath}: {error}. Kaizen keeps "
                "serving; further failures of this kind go to the log only.",
            )
        )

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task failed", exc_info=exc)

    # start-up ---------------------------------------------------------------------------

    async def start_background(self) -> None:
        warm_up_in_background()
        await asyncio.to_thread(self.services.open_store)
        if self.services.store_error:
            self.notify_once(self.services.store_error, types.MessageType.Error)
        if self.services.store is not None:
            choices = await asyncio.to_thread(
                self.services.store.load_choices, str(self.root or "")
            )
            if choices:
                merged = dict(self.editor_options)
                for pipeline, choice in choices.items():
                    merged[pipeline] = {**(merged.get(pipeline) or {}), **choice}
                self.apply_settings(merged)
        self.store_ready.set()
        if self.supports("workspace", "configuration"):
            await self.pull_configuration()

    async def pull_configuration(self) -> None:
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="kaizen")])
            )
        except Exception as exc:  # a client may answer with an error; keep what we have
            log.info("workspace/configuration failed: %s", exc)
            return
        if result and isinstance(result[0], dict) and result[0]:
            self.apply_settings(deep_merge(self.editor_options, result[0]))

    # runs -------------------------------------------------------------------------------

    def schedule(
        self, uri: str, delay_s: float = 0.0, pipeline: str = "autofix"
    ) -> asyncio.Task[Any]:
        key = (uri, pipeline)
        if (old := self.tasks.pop(key, None)) is not None:
            old.cancel()
        task = self.spawn(self._run_after(uri, pipeline, delay_s))
        self.tasks[key] = task
        return task

    def cancel(self, uri: str) -> None:
        for key in [k for k in self.tasks if k[0] == uri]:
            self.tasks.pop(key).cancel()

    def snapshot(self, uri: str) -> Document | None:
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return None
        return Document(
            uri=uri,
            path=Path(to_fs_path(uri) or uri),
            text=doc.source,
            version=doc.version,
            language_id=doc.language_id,
        )

    async def _run_after(self, uri: str, pipeline: str, delay_s: float) -> RunResult | None:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        await asyncio.wait_for(self.store_ready.wait(), timeout=60)
        doc = self.snapshot(uri)
        if doc is None:
            return None
        progress = await self.begin_progress(pipeline)
        key = (uri, pipeline)

        def on_status(status: RunStatus, model: str | None) -> None:
            phase = phase_of(status)
            self.running[key] = phase
            self.report(progress, uri, pipeline, phase, model)

        try:
            result = await self.run_pipeline(pipeline, doc, on_status)
        finally:
            self.running.pop(key, None)
            self.end_progress(progress, uri, pipeline)
            if self.tasks.get(key) is asyncio.current_task():
                self.tasks.pop(key, None)
        for notice in result.notices:
            self.notify_once(notice, types.MessageType.Warning)
        if result.status == RunStatus.FAILED and result.error:
            self.report_failure(pipeline, doc, result)
        current = self.workspace.text_documents.get(uri)
        if current is None or current.version != doc.version:
            if result.run_id is not None and self.services.store is not None:
                await asyncio.to_thread(
                    self.services.store.set_status, result.run_id, RunStatus.STALE
                )
        else:
            self.publish(doc, pipeline, result.findings)
        # Learning (insights, embeddings, auto PRs) happens after the user sees the result.
        task = self.spawn(self.learn_from(result, doc))
        self.learning.add(task)
        task.add_done_callback(self.learning.discard)
        return result

    async def learn_from(self, result: RunResult, doc: Document) -> None:
        shown = len(result.notices)
        await self.services.after_run(result, doc)
        for notice in result.notices[shown:]:
            self.notify_once(notice, types.MessageType.Info)

    async def run_pipeline(self, pipeline: str, doc: Document, on_status: Any) -> RunResult:
        ctx = self.services.context(
            on_status=on_status,
            on_notice=lambda message: self.notify_once(message, types.MessageType.Warning),
        )
        ctx.after_run = None  # run by learn_from, once the result is published
        if pipeline == "refactor":
            from ..pipelines.refactor import run_refactor

            return await run_refactor(doc, ctx)
        return await run_autofix(doc, ctx)

    def publish(self, doc: Document, pipeline: str, findings: list[Finding]) -> None:
        state = self.published.get(doc.uri)
        if state is not None:
            self.spawn(self.record_fixed_by_hand(doc, state, pipeline, findings))
        if state is None or state.version != doc.version:
            keep = (
                {}
                if state is None
                else {
                    fp: f
                    for fp, f in state.findings.items()
                    if f.pipeline != pipeline and state.lines == doc.lines
                }
            )
            state = Published(doc.version, doc.text, doc.lines, keep)
            self.published[doc.uri] = state
        state.findings = {fp: f for fp, f in state.findings.items() if f.pipeline != pipeline}
        state.findings.update({f.fingerprint: f for f in findings})
        self.send_diagnostics(doc.uri)

    def send_diagnostics(self, uri: str) -> None:
        state = self.published.get(uri)
        codec = self.workspace.position_codec
        diagnostics = (
            []
            if state is None
            else [convert.to_diagnostic(codec, state.lines, f) for f in state.findings.values()]
        )
        # The version only when it is still the document's: after an accepted fix the
        # editor is ahead, and clients such as Helix drop publishes for other versions.
        current = self.workspace.text_documents.get(uri)
        version = state.version if state and current and current.version == state.version else None
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    async def record_fixed_by_hand(
        self, doc: Document, before: Published, pipeline: str, findings: list[Finding]
    ) -> None:
        """A finding gone after the user's own edit of its lines was fixed by hand."""
        now = {f.fingerprint for f in findings}
        text = doc.text
        for f in list(before.findings.values()):
            if f.pipeline != pipeline or f.fingerprint in now:
                continue
            flagged = "\n".join(before.lines[f.start_line - 1 : f.end_line]).strip()
            if flagged and flagged not in text:
                await self.services.record_outcome(doc, f, "fixed_by_hand", None, before.lines)

    async def record_outcome(
        self, uri: str, fingerprint: str, outcome: str, reason: str | None = None
    ) -> None:
        """The user accepted a fix or dismissed a finding: remember it, update diagnostics."""
        state = self.published.get(uri)
        finding = state.findings.pop(fingerprint, None) if state else None
        doc = self.snapshot(uri)
        if finding is not None and doc is not None and state is not None:
            await self.services.record_outcome(doc, finding, outcome, reason, state.lines)
        elif self.services.store is not None and doc is not None:
            status = "accepted" if outcome == "accepted" else "rejected"
            await asyncio.to_thread(
                self.services.store.set_outcome, doc.repository, fingerprint, status, reason
            )
        if state is not None:
            self.send_diagnostics(uri)

    # progress ---------------------------------------------------------------------------

    async def begin_progress(self, pipeline: str) -> str | None:
        if not self.supports("window", "work_done_progress"):
            return None
        token = f"kaizen-{uuid.uuid4().hex[:12]}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception:
            return None
        self.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title="Kaizen", message=f"{pipeline}: scan")
        )
        return token

    def report(
        self, token: str | None, uri: str, pipeline: str, phase: str, model: str | None
    ) -> None:
        if token is not None and phase != "done":
            suffix = f" ({model})" if model else ""
            self.work_done_progress.report(
                token, types.WorkDoneProgressReport(message=f"{pipeline}: {phase}{suffix}")
            )
        self.status_notification(uri, pipeline, phase, model)

    def end_progress(self, token: str | None, uri: str, pipeline: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd())
        self.status_notification(uri, pipeline, "idle", None)

    def status_notification(self, uri: str, pipeline: str, phase: str, model: str | None) -> None:
        if not self.settings.status_notifications:
            return
        provider = model.split("/", 1)[0] if model and "/" in model else None
        self.protocol.notify(
            "kaizen/status",
            {
                "uri": uri,
                "pipeline": pipeline,
                "phase": phase,
                "provider": provider,
                "model": model,
            },
        )


def root_of(params: types.InitializeParams) -> Path | None:
    if params.workspace_folders:
        return Path(to_fs_path(params.workspace_folders[0].uri) or ".")
    if params.root_uri:
        return Path(to_fs_path(params.root_uri) or ".")
    if params.root_path:
        return Path(params.root_path)
    return None

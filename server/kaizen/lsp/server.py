"""KaizenServer: the editor session (settings, start-up, messages, background tasks).

Handlers (``features``, ``commands``, ``tool_commands``) stay thin; runs are scheduled by
``scheduler`` and what the editor shows is kept by ``published``. Nothing slow happens
before ``initialize`` is answered: this module imports pygls and nothing of Kaizen's own
that needs pydantic, and the session's parts (settings, ``Services``, the scheduler...) are
made by ``wire``, which runs right after the answer is sent (or on first use, whichever
comes first). The database opens and litellm imports in the background after
``initialized``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__
from .protocol import KaizenProtocol

if TYPE_CHECKING:
    from ..app.services import Services
    from ..config import Settings
    from ..core.document import Document
    from ..pipelines.base import RunResult
    from .published import PublishedFindings
    from .rule_offers import RuleOffers
    from .scheduler import Scheduler
    from .similar import SimilarFixes
    from .symbols import SymbolUpdates

log = logging.getLogger(__name__)
FIRST_PAINT_WAIT_S = 0.5  # start-up work waits this long for the first file to be shown

ALERT_NOTIFICATION = "kaizen/alert"


class KaizenServer(LanguageServer):
    def __init__(self) -> None:
        # pygls' own pool only reads stdin, one line at a time: two threads, not cpu + 4
        super().__init__("kaizen", __version__, protocol_cls=KaizenProtocol, max_workers=2)
        self.editor_options: dict[str, Any] = {}
        self.root: Path | None = None
        self.background: set[asyncio.Task[Any]] = set()
        self.store_ready = asyncio.Event()
        self.first_paint = asyncio.Event()  # the first instant publish is out
        self.notified: set[str] = set()
        self.metrics_port: int | None = None  # ``kaizen serve --metrics-port N``
        self.metrics_url: str | None = None
        self._parts: _Parts | None = None  # made by ``wire``

    # the session's parts, made after ``initialize`` is answered ------------------------

    def wire(self) -> None:
        """Import and make the session's parts (pydantic's settings, ``Services``, the
        scheduler, the published findings...) with the editor's settings: called right
        after the ``initialize`` answer is written, or by whatever needs them first."""
        if self._parts is None:
            self._parts = _Parts(self)
            self.apply_settings(None)
            if self.settings.static_prepass.enabled:  # linters and rule files, on a thread
                self.services.warm_static(self.root)

    @property
    def wired(self) -> bool:
        return self._parts is not None

    @property
    def parts(self) -> _Parts:
        if self._parts is None:
            self.wire()
        assert self._parts is not None
        return self._parts

    @property
    def services(self) -> Services:
        return self.parts.services

    @property
    def scheduler(self) -> Scheduler:
        return self.parts.scheduler

    @property
    def published(self) -> PublishedFindings:
        return self.parts.published

    @property
    def similar(self) -> SimilarFixes:
        return self.parts.similar

    @property
    def rule_offers(self) -> RuleOffers:
        return self.parts.rule_offers

    @property
    def symbol_updates(self) -> SymbolUpdates:
        return self.parts.symbol_updates

    @property
    def settings(self) -> Settings:
        return self.services.settings

    # settings ---------------------------------------------------------------------------

    def apply_settings(self, editor: dict[str, Any] | None) -> None:
        from ..config import load_settings

        if editor is not None:
            self.editor_options = editor
        services = self.services  # made first (``wire``), with the defaults
        settings, problems = load_settings(self.root, self.editor_options)
        services.update_settings(settings)
        if problems:  # one message for the whole configuration, not one per key
            self.notify_once("Kaizen settings: " + "; ".join(problems), types.MessageType.Warning)

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

    def show_alert(self, event: Any) -> None:
        """A degradation alert opened or cleared (``improvement.alerts``): one message per
        event, and ``kaizen/alert`` for clients that show it (the VS Code status badge)."""
        kind = types.MessageType.Warning if event.kind == "raised" else types.MessageType.Info
        self.window_show_message(types.ShowMessageParams(type=kind, message=event.text))
        self.window_log_message(types.LogMessageParams(type=kind, message=event.text))
        self.protocol.notify(ALERT_NOTIFICATION, event.as_json())

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
        """Open the database and import litellm, after the first paint: both hold the GIL
        for a while (SQLAlchemy, litellm's ~4 s import), and the static findings of the
        file the editor opens first should not wait behind them."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.first_paint.wait(), FIRST_PAINT_WAIT_S)
        from ..models.lazy_litellm import warm_up_in_background

        await asyncio.to_thread(self.services.open_store)
        warm_up_in_background()
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
        self.spawn(self.symbol_updates.start())  # waits for the first publish
        if self.metrics_port is not None:
            problem = await asyncio.to_thread(self.start_metrics, self.metrics_port)
            if problem is not None:
                self.notify_once(problem, types.MessageType.Warning)
            else:
                self.window_log_message(
                    types.LogMessageParams(
                        type=types.MessageType.Info, message=f"Kaizen metrics at {self.metrics_url}"
                    )
                )
        if self.supports("workspace", "configuration"):
            await self.pull_configuration()

    def start_metrics(self, port: int) -> str | None:
        """Prometheus exposition of this process and its record on 127.0.0.1 (a daemon
        thread of prometheus_client; blocking only for the bind, off the event loop).
        Returns what went wrong, or None."""
        from prometheus_client import start_http_server

        from ..improvement import telemetry

        reg = telemetry.registry(self.services.store, lambda: self.services.settings)
        try:
            httpd, _thread = start_http_server(port, addr="127.0.0.1", registry=reg)
        except OSError as exc:
            return (
                f"Kaizen could not serve metrics on 127.0.0.1:{port} ({exc}); "
                "the editor server keeps running without them"
            )
        self.metrics_url = f"http://127.0.0.1:{httpd.server_address[1]}/metrics"
        return None

    async def pull_configuration(self) -> None:
        from ..config import deep_merge

        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="kaizen")])
            )
        except Exception as exc:  # a client may answer with an error; keep what we have
            log.info("workspace/configuration failed: %s", exc)
            return
        if result and isinstance(result[0], dict) and result[0]:
            self.apply_settings(deep_merge(self.editor_options, result[0]))

    def snapshot(self, uri: str) -> Document | None:
        from ..core.document import Document

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


class _Parts:
    """Everything of a session that needs Kaizen's heavier modules, made in one place."""

    def __init__(self, server: KaizenServer) -> None:
        from ..app.services import Services
        from ..config import Settings
        from .published import PublishedFindings
        from .rule_offers import RuleOffers
        from .scheduler import Scheduler
        from .similar import SimilarFixes
        from .symbols import SymbolUpdates

        self.services = Services(Settings())
        self.services.on_alert = server.show_alert
        self.services.on_problem = lambda text: server.notify_once(
            text, types.MessageType.Warning
        )
        self.scheduler = Scheduler(server)
        self.published = PublishedFindings(server)
        self.similar = SimilarFixes(server)
        self.rule_offers = RuleOffers(server)  # proposed rules: Accept / Reject / evidence
        self.symbol_updates = SymbolUpdates(server)  # the workspace symbol index


def root_of(params: types.InitializeParams) -> Path | None:
    if params.workspace_folders:
        return Path(to_fs_path(params.workspace_folders[0].uri) or ".")
    if params.root_uri:
        return Path(to_fs_path(params.root_uri) or ".")
    if params.root_path:
        return Path(params.root_path)
    return None

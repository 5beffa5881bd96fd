"""What the scheduler and the published findings need of the editor session: the server
as a ``Protocol``, so they depend on its shape and not on its module (no import circle)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from lsprotocol import types

from ..app.services import Services
from ..config import Settings
from ..core.document import Document
from ..pipelines.base import RunResult


class Session(Protocol):
    store_ready: asyncio.Event
    first_paint: asyncio.Event
    protocol: Any

    # The session's parts are made after ``initialize`` is answered (``KaizenServer.wire``)
    # and read through properties, so the protocol asks only to read them.
    @property
    def services(self) -> Services: ...

    @property
    def published(self) -> Any: ...  # PublishedFindings

    @property
    def symbol_updates(self) -> Any: ...  # SymbolUpdates: the symbol index's updates

    # pygls exposes these as read-only properties, so the protocol asks only to read them.
    @property
    def workspace(self) -> Any: ...  # pygls Workspace

    @property
    def work_done_progress(self) -> Any: ...

    @property
    def settings(self) -> Settings: ...

    def spawn(self, coro: Any) -> asyncio.Task[Any]: ...

    def snapshot(self, uri: str) -> Document | None: ...

    def supports(self, *path: str) -> bool: ...

    def notify_once(
        self, message: str, kind: types.MessageType = types.MessageType.Info
    ) -> None: ...

    def report_failure(self, pipeline: str, doc: Document, result: RunResult) -> None: ...

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None: ...

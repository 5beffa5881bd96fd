"""The editor's side of the workspace symbol index: when it is built and what updates it.

Built once, in the background, after the first publish (the static findings of the first
file never wait for a workspace walk) and after the database opened (so a restart loads
the persisted index and re-reads only changed files). Updated by content hash:

- didChange and didSave, from the editor's buffer, after a short pause per document
  (typing and saving cost one outline, not one per key or save; a run of another document
  cuts the pause short); didClose, from the file on disk again;
- workspace/didChangeWatchedFiles (registered when the client allows it): created and
  changed files from disk unless the editor has them open (its buffer wins), deleted files
  removed.

Every step runs on a worker thread; a failure is logged and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

log = logging.getLogger(__name__)

CHANGE_PAUSE_S = 0.3
WATCH_ID = "kaizen-symbol-index"


class SymbolUpdates:
    def __init__(self, server: Any) -> None:
        self.server = server
        self._pending: dict[str, asyncio.Task[None]] = {}  # waiting out the pause
        self._updating: set[asyncio.Task[Any]] = set()  # re-indexing on a thread
        self.ready = asyncio.Event()  # the first build finished (tests, benchmarks)

    @property
    def symbols(self) -> Any:
        return self.server.services.symbols

    async def start(self) -> None:
        """Build the index once the first publish is out and the database is open."""
        server = self.server
        if server.root is None:
            return
        await server.first_paint.wait()
        await server.store_ready.wait()
        symbols = server.services.workspace_symbols(server.root)
        try:
            await symbols.build()
        except Exception:
            log.exception("could not build the symbol index of %s", server.root)
            return
        finally:
            self.ready.set()
        stats = symbols.last_build
        server.window_log_message(
            types.LogMessageParams(
                type=types.MessageType.Info,
                message=f"Kaizen indexed {stats['files']} files ({stats['read']} read, "
                f"{stats['loaded']} from the database) in {stats['seconds']:.2f} s",
            )
        )
        await self.watch()

    async def watch(self) -> None:
        if not self.server.supports(
            "workspace", "did_change_watched_files", "dynamic_registration"
        ):
            return
        try:
            await self.server.client_register_capability_async(
                types.RegistrationParams(
                    registrations=[
                        types.Registration(
                            id=WATCH_ID,
                            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
                            ),
                        )
                    ]
                )
            )
        except Exception as exc:  # a client may refuse; didSave still updates the index
            log.info("could not watch the workspace's files: %s", exc)

    def changed(self, uri: str, delay: float = CHANGE_PAUSE_S) -> None:
        """A document's buffer changed or was saved: re-index it after ``delay``."""
        if self.symbols is None:
            return
        if (task := self._pending.pop(uri, None)) is not None:
            task.cancel()
        self._pending[uri] = self.server.spawn(self._after(uri, delay))

    async def _after(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        self._pending.pop(uri, None)
        await self._update(uri)

    async def _update(self, uri: str) -> None:
        doc = self.server.workspace.text_documents.get(uri)
        if doc is None or self.symbols is None:
            return
        task = asyncio.create_task(self.symbols.update(Path(to_fs_path(uri) or uri), doc.source))
        task.set_name(uri)  # ``flush`` need not wait for the document it reviews
        self._updating.add(task)
        try:
            await asyncio.shield(task)  # a cancelled waiter leaves the update to finish
        finally:
            task.add_done_callback(self._updating.discard)

    async def flush(self, reviewing: str | None = None) -> None:
        """Bring the index up to the editor's buffers now (a run is about to plan): the
        pauses still waiting are cut short, the updates under way awaited.

        ``reviewing``: the document about to be reviewed. Its own entry matters only to the
        other files' packs (its units read their own text), so its pause is left to run
        out: it is re-indexed once the user stops saving and typing, or at once when
        another document's run flushes, never beside the save's own planning (a
        2,000-line file's outline is ~15 ms of CPU, and a thread holding the interpreter
        makes every step of the save wait for it)."""
        waiting = [uri for uri in self._pending if uri != reviewing]
        for uri in waiting:
            self._pending.pop(uri).cancel()
        for uri in waiting:
            await self._update(uri)
        others = [t for t in self._updating if t.get_name() != reviewing]
        if others:
            await asyncio.wait(others)

    def closed(self, uri: str) -> None:
        """A document closed: its entry goes back to the file on disk (an edit closed
        without saving leaves no definitions that exist nowhere)."""
        if (task := self._pending.pop(uri, None)) is not None:
            task.cancel()
        if self.symbols is not None:
            task = self.server.spawn(self.symbols.update(Path(to_fs_path(uri) or uri)))
            self._updating.add(task)  # a run planned next waits for it (``flush``)
            task.add_done_callback(self._updating.discard)

    async def files_changed(self, params: types.DidChangeWatchedFilesParams) -> None:
        symbols = self.symbols
        if symbols is None:
            return
        changed = removed = 0
        for change in params.changes:
            path = Path(to_fs_path(change.uri) or change.uri)
            try:
                if change.type == types.FileChangeType.Deleted:
                    removed += len((await symbols.remove(path)).removed)
                elif change.uri not in self.server.workspace.text_documents:
                    delta = await symbols.update(path)
                    changed += len(delta.changed)
                    removed += len(delta.removed)
            except Exception:
                log.exception("could not re-index %s", path)
        if changed or removed:  # the trace level: clients show it only when asked to
            self.server.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Log,
                    message=f"Kaizen symbol index: {changed} file(s) re-indexed, {removed} removed",
                )
            )

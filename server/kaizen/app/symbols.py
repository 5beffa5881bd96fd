"""The workspace symbol index wired to the database: loaded from it, built, kept up to date
and written back, the same way for the editor and ``kaizen check``.

``languages.symbols`` holds the index in memory and knows nothing of storage;
``memory.symbols`` holds the rows and knows nothing of parsing; this joins them. Every
blocking step (reading the rows, walking and parsing the workspace, writing) runs on a
worker thread. The editor starts ``build`` only after its first publish; ``kaizen check``
awaits it before any file is planned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from ..core.workspace import repository_id
from ..languages import outline as outline_text
from ..languages.symbols import Delta, FileSymbols, SymbolIndex
from ..languages.table import entry_for, parses

log = logging.getLogger(__name__)


def indexed_language(rel: str) -> str | None:
    """The language a workspace file is indexed as: one whose grammar and query load."""
    entry = entry_for(rel)
    if entry is None or not parses(entry):
        return None
    return entry.name


class WorkspaceSymbols:
    """One workspace root's index and its persistence (``store`` may be None: memory only)."""

    def __init__(self, root: Path, store: Any = None) -> None:
        self.root = root
        self.store = store
        self.repository = repository_id(root)
        self.index = SymbolIndex(root, outline_text, indexed_language)
        self.building: asyncio.Task[Delta] | None = None
        self.last_build: dict[str, float] = {}

    async def build(self) -> Delta:
        """Load the persisted rows, then index what changed since; persisted at the end."""
        return await asyncio.to_thread(self.build_now)

    def build_now(self) -> Delta:
        started = time.perf_counter()
        loaded = 0
        if self.store is not None:
            from ..memory import symbols as rows

            try:
                loaded = self.index.load(
                    FileSymbols.from_row(*row) for row in rows.load(self.store, self.repository)
                )
            except Exception:
                log.exception("could not read the symbol index; rebuilding it")
        delta = self.index.build()
        self._persist(delta)
        self.last_build = {
            "loaded": loaded,
            "read": delta.read,
            "changed": len(delta.changed),
            "removed": len(delta.removed),
            "files": len(self.index),
            "seconds": time.perf_counter() - started,
        }
        log.info("symbol index of %s: %s", self.root, self.last_build)
        return delta

    def _persist(self, delta: Delta) -> None:
        if self.store is None or not delta:
            return
        from ..memory import symbols as rows

        try:
            rows.save(self.store, self.repository, delta.changed + delta.restamped, delta.removed)
        except Exception:  # the index still serves from memory; the next start re-reads
            log.exception("could not write the symbol index")

    def update_now(self, path: Path, text: str | None = None) -> Delta:
        """A file changed (``text``: the editor's buffer), was created or deleted.

        A buffer's definitions are not written: the row keeps describing the file on disk
        with its stamp, so a restart re-reads the file only if it was saved since, and an
        edit that was never saved leaves nothing stale behind."""
        delta = self.index.update(path, text)
        if text is None:
            self._persist(delta)
        elif delta.removed:
            self._persist(Delta(removed=delta.removed))
        return delta

    async def update(self, path: Path, text: str | None = None) -> Delta:
        return await asyncio.to_thread(self.update_now, path, text)

    async def remove(self, path: Path) -> Delta:
        def run() -> Delta:
            delta = self.index.remove(path)
            self._persist(delta)
            return delta

        return await asyncio.to_thread(run)

"""The progress display of ``kaizen check``: a bar on stderr while files are reviewed.

On a terminal it is a live line (files done, in flight, units cached and reviewed, tokens,
cost so far) drawn with rich; when stderr is not a terminal, or with ``--quiet``, nothing is
drawn, so CI logs and redirected output stay plain.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from ..app.check_run import Progress


class ProgressDisplay:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._live: Any = None
        self._bar: Any = None
        self._task: Any = None

    @classmethod
    def for_terminal(cls, quiet: bool) -> ProgressDisplay:
        return cls(enabled=not quiet and sys.stderr.isatty())

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("kaizen check"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("files", total=None, detail="")
        return self

    def update(self, state: Progress) -> None:
        if self._bar is None:
            return
        detail = (
            f"{state.in_flight} in flight, {state.cached} cached, {state.reviewed} reviewed, "
            f"{state.prompt_tokens + state.completion_tokens:,} tokens, ${state.cost_usd:.4f}"
        )
        self._bar.update(self._task, total=state.files, completed=state.done, detail=detail)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

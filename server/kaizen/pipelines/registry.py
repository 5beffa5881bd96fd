"""The pipelines by name: every face (editor, ``kaizen check``, ``kaizen pr``) runs a
pipeline through ``PIPELINES`` instead of choosing a function by a name string of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..core.document import Document
from .autofix import run_autofix
from .base import RunResult
from .context import RunContext
from .refactor import run_refactor

Runner = Callable[[Document, RunContext], Awaitable[RunResult]]

PIPELINES: dict[str, Runner] = {"autofix": run_autofix, "refactor": run_refactor}


async def run(pipeline: str, doc: Document, ctx: RunContext) -> RunResult:
    """One run of ``pipeline`` (``autofix`` or ``refactor``) on ``doc``."""
    try:
        runner = PIPELINES[pipeline]
    except KeyError:
        raise ValueError(
            f"unknown pipeline {pipeline!r}; the pipelines are {list(PIPELINES)}"
        ) from None
    return await runner(doc, ctx)

"""The tool table (``tools.table.TOOLS``) as LSP commands: every tool with a ``command`` name
becomes ``kaizen.<command>`` (``kaizen.analyzeMetrics``, ``kaizen.getRoutingHeuristics``, ...).

Each command waits for the database (it opens in the background after ``initialized``),
reads its argument the editor's lenient way, runs the tool on a worker thread over the
server's store and settings, and turns a bad call into a ``CommandError``. Tools that change
routing make the router re-read its record.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from ..tools.table import TOOLS, Context, Tool, ToolError
from .commands import CommandError, Handler, review_open_documents, wrap
from .server import KaizenServer

STORE_WAIT_S = 30.0


async def _context(ls: KaizenServer) -> Context:
    services = ls.services
    if services.store is None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ls.store_ready.wait(), STORE_WAIT_S)
    if services.store is None:
        raise CommandError(services.store_error or "Kaizen's database is not open")
    return Context(services.store, services.settings, ls.root)


def _handler(tool: Tool) -> Handler:
    async def run(ls: KaizenServer, args: dict[str, Any]) -> Any:
        ctx = await _context(ls)
        try:
            result = await asyncio.to_thread(tool.call, ctx, args, mode="editor")
        except ToolError as exc:
            raise CommandError(str(exc)) from None
        if tool.changes_routing:
            await asyncio.to_thread(ls.services.router.refresh)
        if tool.changes_findings:
            review_open_documents(ls)
        return result

    return run


def handlers() -> dict[str, Callable[..., Awaitable[Any]]]:
    """``kaizen.<command>`` of every tool that has one (``command_names`` lists them for
    the ``initialize`` answer)."""
    out: dict[str, Callable[..., Awaitable[Any]]] = {}
    for tool in TOOLS.values():
        if tool.command is not None:
            name = f"kaizen.{tool.command}"
            out[name] = wrap(name, _handler(tool))
    return out

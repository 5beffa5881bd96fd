"""The self-improvement record as LSP commands: ``kaizen.analyzeMetrics``,
``kaizen.getRoutingHeuristics``, ``kaizen.updateRoutingHeuristic``, ``kaizen.getBugPatterns``,
``kaizen.recordBugPattern``, ``kaizen.getRegressionTests``, ``kaizen.generateRegressionTest``,
``kaizen.recordMetric`` and ``kaizen.updateModelPerformance``.

Each is a thin wrapper over ``tools.OPERATIONS`` (the same functions the CLI calls): it
waits for the database, runs the operation on a worker thread, and turns a bad call into a
``CommandError``. Operations that change routing make the router re-read its record.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..tools import OPERATIONS, Operation, ToolError
from .commands import CommandError, Handler, command
from .server import KaizenServer

STORE_WAIT_S = 30.0


async def _store(ls: KaizenServer) -> Any:
    if ls.services.store is None:
        # the database opens in the background after ``initialized``
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ls.store_ready.wait(), STORE_WAIT_S)
    if ls.services.store is None:
        raise CommandError(ls.services.store_error or "Kaizen's database is not open")
    return ls.services.store


def _handler(name: str, op: Operation) -> Handler:
    async def run(ls: KaizenServer, args: dict[str, Any]) -> Any:
        store = await _store(ls)
        if name == "analyzeMetrics" and "dailyBudgetUsd" not in args:
            args = {**args, "dailyBudgetUsd": ls.services.settings.budget.daily_usd}
        try:
            result = await asyncio.to_thread(op.function, store, args)
        except ToolError as exc:
            raise CommandError(str(exc)) from None
        if op.changes_routing:
            await asyncio.to_thread(ls.services.router.refresh)
        return result

    run.__name__ = f"kaizen_{name}"
    return run


for _name, _op in OPERATIONS.items():
    command(f"kaizen.{_name}")(_handler(_name, _op))

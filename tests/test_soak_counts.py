"""A long-running server does not accumulate per save (issue 26, the soak benchmark's
counts in small): after a few saves, pygls holds no finished handler's future and no
ended progress token, and the worker threads stay within their bound."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from kaizen.lsp.protocol import WORKERS
from tests.conftest import learned, model_options, open_document, wait_for_diagnostics
from tests.fixtures.editing import edit_and_save

SAVES = 6
TEXT = "def price(order, rate):\n    total = order.amount * rate  # v0\n    return total\n"


async def process(client: Any) -> dict[str, Any]:
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kaizen.getStatus", arguments=[{}])
    )
    return status["process"]


async def test_saves_leave_no_futures_tokens_or_threads_behind(start_client, scripted, project):
    scripted.set_default(
        "issue_detector",
        {"issues": [{"line": 2, "severity": "warning", "category": "bug", "message": "rate"}]},
    )
    scripted.set_default("fix_generator", {"fixes": []})
    # visual-studio-code: the client supports work-done progress, so every run makes a token
    client = await start_client(model_options(scripted, review={"minConfidence": 0}))
    uri = open_document(client, project / "price.py", TEXT)
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1, timeout=60)
    for version in range(2, SAVES + 2):
        edit_and_save(client, uri, version, TEXT.replace("v0", f"v{version}"))
        await wait_for_diagnostics(client, uri, lambda d: len(d) == 1, timeout=60)
    await learned(client)
    counts = await process(client)
    # pygls 2.1 kept two to four futures a save and a token a run; only the getStatus
    # request in flight (and the handler it yields to) may be there now
    assert counts["handlerFutures"] <= 2, counts
    assert counts["progressTokens"] == 0, counts
    assert counts["threadNames"].get("kaizen-worker", 0) <= WORKERS, counts
    assert counts["threads"] <= WORKERS + 4, counts  # main, pygls' reader (2), litellm's import

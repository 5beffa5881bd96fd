"""End to end in the editor: a TypeScript function calling ``roundPrice`` from ``./util``.
The real server under pytest-lsp, the real litellm against the scripted model server: the
prompt it records carries roundPrice's signature and never its body; the workspace symbol
index is built after the first publish and persisted; an unsaved edit of the callee's
signature in the editor reaches the caller's next review."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from kaizen.memory import symbols as symbol_rows
from kaizen.memory.store import Store
from tests.conftest import model_options

UTIL = """/** Rounds a price to cents. */
export function roundPrice(p: number): number {
  return Math.round(p * 100) / 100;
}
"""
APP = """import { roundPrice } from "./util";

export function total(items: number[]): number {
  return roundPrice(items.reduce((a, b) => a + b, 0));
}
"""
BODY = "Math.round(p * 100) / 100"


def open_ts(client, path: Path, text: str) -> str:  # type: ignore[no-untyped-def]
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="typescript", version=1, text=text
            )
        )
    )
    return uri


async def wait_for_log(client, needle: str, timeout: float = 30) -> str:  # type: ignore[no-untyped-def]
    async def wait() -> str:
        while True:
            for m in client.log_messages:
                if needle in m.message:
                    return str(m.message)
            waiter = client.protocol.wait_for_notification(types.WINDOW_LOG_MESSAGE)
            await asyncio.wait([asyncio.wrap_future(waiter)], timeout=0.5)

    return await asyncio.wait_for(wait(), timeout)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_typescript_caller_gets_the_callee_signature_not_its_body(
    start_client, scripted, project: Path, database_url: str
) -> None:
    (project / "src").mkdir()
    (project / "src/util.ts").write_text(UTIL)
    (project / "src/app.ts").write_text(APP)
    scripted.set_default("issue_detector", {"issues": []})
    client = await start_client(model_options(scripted))
    app = open_ts(client, project / "src/app.ts", APP)
    await asyncio.to_thread(scripted.wait_for_requests, 1, 60)
    [prompt] = scripted.prompts_for("issue_detector")
    assert "function roundPrice(p: number): number  // Rounds a price to cents." in prompt
    assert BODY not in prompt

    # after the first publish the index is built, and written to the database
    message = await wait_for_log(client, "Kaizen indexed")
    assert message.startswith("Kaizen indexed 2 files")
    store = Store.open(database_url)
    try:
        rows = {r[0]: r for r in symbol_rows.load(store, "github.com/acme/widgets")}
    finally:
        store.close()
    assert sorted(rows) == ["src/app.ts", "src/util.ts"]
    assert rows["src/util.ts"][5]["symbols"][0][0] == "roundPrice"

    # files created and deleted outside the editor (workspace/didChangeWatchedFiles)
    (project / "src/tax.ts").write_text(
        "export function tax(a: number): number {\n  return a;\n}\n"
    )
    (project / "src/app.ts").rename(project / "src/app2.ts")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(
                    uri=(project / "src/tax.ts").as_uri(), type=types.FileChangeType.Created
                ),
                types.FileEvent(
                    uri=(project / "src/app.ts").as_uri(), type=types.FileChangeType.Deleted
                ),
            ]
        )
    )
    assert "1 file(s) re-indexed, 1 removed" in await wait_for_log(client, "Kaizen symbol index:")
    (project / "src/app2.ts").rename(project / "src/app.ts")
    store = Store.open(database_url)
    try:
        rows = {r[0]: r for r in symbol_rows.load(store, "github.com/acme/widgets")}
    finally:
        store.close()
    assert sorted(rows) == ["src/tax.ts", "src/util.ts"]

    # the callee's signature changes in the editor, unsaved: the caller's next run sees it
    util = open_ts(client, project / "src/util.ts", UTIL)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=util, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(
                    text=UTIL.replace("(p: number)", "(p: number, digits: number)")
                )
            ],
        )
    )
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=app))
    )

    def of_app() -> list[str]:
        return [p for p in scripted.prompts_for("issue_detector") if "function total" in p]

    for count in (3, 4):  # util.ts's own review arrives too, in either order
        await asyncio.to_thread(scripted.wait_for_requests, count, 60)
        if len(of_app()) == 2:
            break
    latest = of_app()
    assert len(latest) == 2
    assert "function roundPrice(p: number, digits: number): number" in latest[1]
    assert BODY not in latest[1]

    # closed without saving: the index goes back to the file on disk (changed meanwhile by
    # another program, unwatched), and so does the pack
    (project / "src/util.ts").write_text(UTIL.replace("(p: number)", "(p: number, cents: boolean)"))
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=util))
    )
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=app))
    )
    for count in range(len(scripted.requests) + 1, len(scripted.requests) + 3):
        await asyncio.to_thread(scripted.wait_for_requests, count, 60)
        if len(of_app()) == 3:
            break
    last = of_app()[-1]
    assert "function roundPrice(p: number, cents: boolean): number" in last
    assert "digits" not in last


def test_kaizen_check_indexes_the_workspace_before_planning(
    scripted, kaizen_home: Path, project: Path
) -> None:
    """A C caller whose callee is declared in a header and defined in a .c file elsewhere:
    only the symbol index (built before any file is planned) finds the definition."""
    from tests.test_cli import kaizen

    files = {
        "include/shop/util.h": "double round_price(double p, int places);\n",
        "src/shop/util.c": "#include <shop/util.h>\n\n/* Rounds a price to cents. */\n"
        "double round_price(double p, int places) {\n    return p * 100 / 100;\n}\n",
        "src/shop/main.c": "#include <shop/util.h>\n\ndouble total(double p) {\n"
        "    return round_price(p, 2);\n}\n",
    }
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    scripted.set_default("issue_detector", {"issues": []})
    proc = kaizen(["check", "--no-static", "src/shop/main.c"], scripted, kaizen_home, project)
    assert proc.returncode == 0, proc.stderr
    [prompt] = scripted.prompts_for("issue_detector")
    assert "double round_price(double p, int places)  // Rounds a price to cents." in prompt
    assert "p * 100 / 100" not in prompt

"""LSP feature handlers, registered once on a KaizenServer. Each is a few lines that call
into the server's scheduling or the pipelines; none of them blocks the event loop.

Registering them imports nothing heavy: the capabilities the ``initialize`` answer lists
come from what is registered here (and from ``command_names`` for the commands), and each
handler imports what it calls when it first runs, after the answer is out (``wire``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types

from . import command_names
from .server import KaizenServer, root_of

QUICKFIX = types.CodeActionKind.QuickFix
REFACTOR = types.CodeActionKind.RefactorRewrite


def register(server: KaizenServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: KaizenServer, params: types.InitializeParams) -> None:
        ls.root = root_of(params)
        options = params.initialization_options
        ls.editor_options = options if isinstance(options, dict) else {}
        if ls.wired:  # something needed the session before: it takes the editor's settings now
            ls.apply_settings(ls.editor_options)
        else:  # after the answer is written (pygls writes it before this loop turn ends)
            asyncio.get_running_loop().call_soon(ls.wire)

    @server.feature(types.INITIALIZED)
    def initialized(ls: KaizenServer, _params: types.InitializedParams) -> None:
        ls.wire()
        ls.spawn(ls.start_background())

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: KaizenServer, params: types.DidChangeConfigurationParams
    ) -> None:
        from ..config import deep_merge

        settings = params.settings
        if isinstance(settings, dict) and isinstance(settings.get("kaizen"), dict):
            ls.apply_settings(deep_merge(ls.editor_options, settings["kaizen"]))
        elif ls.supports("workspace", "configuration"):
            await ls.pull_configuration()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: KaizenServer, params: types.DidOpenTextDocumentParams) -> None:
        if ls.settings.trigger.on_open:
            ls.scheduler.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: KaizenServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.symbol_updates.changed(params.text_document.uri)  # after a pause: see ``flush``
        if ls.settings.trigger.on_save:
            ls.scheduler.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: KaizenServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.symbol_updates.changed(params.text_document.uri)
        if ls.settings.trigger.on_change:
            ls.scheduler.schedule(params.text_document.uri, ls.settings.trigger.debounce_ms / 1000)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched_files(
        ls: KaizenServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        await ls.symbol_updates.files_changed(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: KaizenServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.scheduler.cancel(uri)
        ls.published.forget(uri)
        ls.symbol_updates.closed(uri)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[QUICKFIX, REFACTOR], resolve_provider=False),
    )
    def code_action(ls: KaizenServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        from .code_actions import code_actions

        return code_actions(ls, params)

    for name in command_names.COMMANDS:
        server.command(name)(_command(name))


def _command(name: str) -> Any:
    """``workspace/executeCommand`` of ``name``: the handler of ``commands`` or
    ``tool_commands``, imported on the first command (``command_names.handlers``)."""

    async def run(ls: KaizenServer, *args: Any) -> Any:
        return await command_names.handlers()[name](ls, *args)

    run.__name__ = name.replace(".", "_")
    return run

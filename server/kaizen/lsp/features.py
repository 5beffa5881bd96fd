"""LSP feature handlers, registered once on a KaizenServer. Each is a few lines that call
into the server's scheduling or the pipelines; none of them blocks the event loop.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from ..config import deep_merge
from ..core.findings import Finding, split_lines
from ..pipelines.verify import deletion_span, is_deletion
from . import commands, convert, tool_commands
from .server import KaizenServer, root_of

QUICKFIX = types.CodeActionKind.QuickFix
REFACTOR = types.CodeActionKind.RefactorRewrite


def register(server: KaizenServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: KaizenServer, params: types.InitializeParams) -> None:
        ls.root = root_of(params)
        options = params.initialization_options
        ls.apply_settings(options if isinstance(options, dict) else {})
        if ls.settings.static_prepass.enabled:
            ls.services.warm_static(ls.root)

    @server.feature(types.INITIALIZED)
    def initialized(ls: KaizenServer, _params: types.InitializedParams) -> None:
        ls.spawn(ls.start_background())

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: KaizenServer, params: types.DidChangeConfigurationParams
    ) -> None:
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
        return code_actions(ls, params)

    commands.register(server)
    tool_commands.register(server)


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line,
        b.start.character,
    ) <= (a.end.line, a.end.character)


def _still_applies(ls: KaizenServer, uri: str, lines_then: list[str], f: Finding) -> bool:
    """A fix computed on an older version applies only if the lines it touches are unchanged."""
    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        return False
    now = split_lines(doc.source)
    for e in f.edits:
        span = slice(e.start_line, e.end_line + 1)
        if lines_then[span] != now[span]:
            return False
    return True


def fix_title(f: Finding, text: str) -> str:
    """A model's fix that only removes code says so first ("Delete lines 4-6 — ..."): a
    deletion is never offered under the title of a repair (``pipelines.verify`` offers it
    only when the model marked it as one)."""
    what = f.fix_title or f.message
    if f.origin == "model" and is_deletion(text, f.edits):
        return f"Delete {deletion_span(f.edits)} — {what} (Kaizen)"
    return f"Kaizen: apply {'refactor' if f.pipeline == 'refactor' else 'fix'} — {what}"


def code_actions(ls: KaizenServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    offered = ls.similar.code_actions(uri)  # after an accepted ruff fix: the same elsewhere
    state = ls.published.get(uri)
    if state is None:
        return offered
    codec = ls.workspace.position_codec
    wanted = {convert.fingerprint_of(d) for d in params.context.diagnostics} - {None}
    actions: list[types.CodeAction] = []
    for f in state.findings.values():
        diagnostic = convert.to_diagnostic(codec, state.lines, f)
        if f.fingerprint not in wanted and not _overlaps(diagnostic.range, params.range):
            continue
        args: dict[str, Any] = {"uri": uri, "fingerprint": f.fingerprint}
        if f.has_fix and _still_applies(ls, uri, state.lines, f):
            refactor = f.pipeline == "refactor"
            title = fix_title(f, state.text)
            actions.append(
                types.CodeAction(
                    title=title[:120],
                    kind=REFACTOR if refactor else QUICKFIX,
                    diagnostics=[diagnostic],
                    is_preferred=not refactor,
                    edit=types.WorkspaceEdit(
                        changes={uri: convert.text_edits(codec, state.lines, f)}
                    ),
                    command=types.Command(
                        title="Record outcome",
                        command="kaizen.recordOutcome",
                        arguments=[{**args, "outcome": "accepted"}],
                    ),
                )
            )
        if f.pipeline == "refactor":
            actions.append(
                types.CodeAction(
                    title=f"Kaizen: open pull request — {f.title or f.message}"[:120],
                    kind=REFACTOR,
                    diagnostics=[diagnostic],
                    command=types.Command(
                        title="Open pull request",
                        command="kaizen.createPullRequest",
                        arguments=[args],
                    ),
                )
            )
        actions.append(
            types.CodeAction(
                title=f"Kaizen: dismiss — {f.message}"[:120],
                kind=QUICKFIX,
                diagnostics=[diagnostic],
                command=types.Command(title="Dismiss", command="kaizen.dismiss", arguments=[args]),
            )
        )
    return actions + offered

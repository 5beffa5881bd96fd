"""``workspace/executeCommand`` handlers (``kaizen.*``).

Every command takes one JSON object and returns JSON, so any LSP client (or a script) can
call it. Arguments are validated with pydantic; a bad call gets a clear error, not a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from lsprotocol import types
from pydantic import BaseModel, ValidationError

from ..core.document import Document
from ..core.errors import validation_message
from ..core.runs import RunStatus
from ..core.tasks import PIPELINE_NAMES, detector_of
from .process import counts
from .server import KaizenServer

log = logging.getLogger(__name__)
Handler = Callable[[KaizenServer, dict[str, Any]], Awaitable[Any]]
COMMANDS: dict[str, Handler] = {}


class CommandError(Exception):
    pass


def command(name: str) -> Callable[[Handler], Handler]:
    def decorate(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return decorate


def parse(model: type[BaseModel], args: dict[str, Any]) -> Any:
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise CommandError(validation_message(exc)) from None


class _Args(BaseModel):
    # validators built on a command's first call, not while ``initialize`` waits
    model_config = {"populate_by_name": True, "extra": "ignore", "defer_build": True}


class UriArgs(_Args):
    uri: str


class OutcomeArgs(_Args):
    uri: str
    fingerprint: str
    outcome: Literal["accepted", "rejected"] = "accepted"
    reason: str | None = None


class DismissArgs(_Args):
    uri: str
    fingerprint: str
    reason: str | None = None


class SetModelArgs(_Args):
    pipeline: Literal["autofix", "refactor"] = "autofix"
    provider: str | None = None
    model: str | None = None
    apiBase: str | None = None


def status(ls: KaizenServer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pipeline in PIPELINE_NAMES:
        choice = ls.services.router.choose(detector_of(pipeline) or "issue_detector")
        target = choice.targets[0] if choice.targets else None
        out[pipeline] = {
            "provider": target.provider if target else None,
            "model": target.model if target else None,
            "source": choice.source,
        }
    out["running"] = ls.scheduler.running_list()
    out["pending"] = ls.scheduler.pending()
    return out


@command("kaizen.getStatus")
async def get_status(ls: KaizenServer, args: dict[str, Any]) -> Any:
    """``{"waitForLearning": true}`` first waits until every finished run has been learned
    from (insights are recorded after diagnostics are published, off the critical path)."""
    if args.get("waitForLearning"):
        await ls.scheduler.wait_for_learning()
    process = counts(ls.protocol, bool(args.get("objects")), args.get("traceSnapshot"))
    return {**status(ls), "learning": len(ls.scheduler.learning), "process": process}


@command("kaizen.setModel")
async def set_model(ls: KaizenServer, args: dict[str, Any]) -> Any:
    a: SetModelArgs = parse(SetModelArgs, args)
    choice = {"provider": a.provider, "model": a.model, "apiBase": a.apiBase}
    options = dict(ls.editor_options)
    options[a.pipeline] = {**(options.get(a.pipeline) or {}), **choice}
    ls.apply_settings(options)
    if ls.services.store is not None:
        await asyncio.to_thread(
            ls.services.store.save_choice, str(ls.root or ""), a.pipeline, choice
        )
    return status(ls)


async def _run(ls: KaizenServer, args: dict[str, Any], pipeline: str) -> Any:
    a: UriArgs = parse(UriArgs, args)
    if a.uri not in ls.workspace.text_documents:
        raise CommandError(f"{a.uri} is not open")
    result = await ls.scheduler.schedule(a.uri, 0, pipeline)
    if result is None:
        return {"runId": None, "findings": 0, "status": RunStatus.CANCELLED.value}
    return {"runId": result.run_id, "findings": len(result.findings), "status": result.status.value}


@command("kaizen.runAutofix")
async def run_autofix_command(ls: KaizenServer, args: dict[str, Any]) -> Any:
    return await _run(ls, args, "autofix")


@command("kaizen.runRefactor")
async def run_refactor_command(ls: KaizenServer, args: dict[str, Any]) -> Any:
    return await _run(ls, args, "refactor")


@command("kaizen.recordOutcome")
async def record_outcome(ls: KaizenServer, args: dict[str, Any]) -> Any:
    a: OutcomeArgs = parse(OutcomeArgs, args)
    finding = ls.published.finding(a.uri, a.fingerprint)
    await ls.published.record_outcome(a.uri, a.fingerprint, a.outcome, a.reason)
    similar = 0
    if a.outcome == "accepted" and finding is not None and (doc := ls.snapshot(a.uri)):
        similar = await ls.similar.offer(doc, finding)  # "apply to N similar places"
    ls.rule_offers.after_outcome()  # a proposed rule, if the record now supports one
    return {"ok": True, "similar": similar}


@command("kaizen.acceptSimilar")
async def accept_similar(ls: KaizenServer, args: dict[str, Any]) -> Any:
    """The user applied "apply to N similar places": each place counts as accepted."""
    a: UriArgs = parse(UriArgs, args)
    return await ls.similar.accept(a.uri)


UNDO_DISMISS = "Undo dismiss"


@command("kaizen.dismiss")
async def dismiss(ls: KaizenServer, args: dict[str, Any]) -> Any:
    """Dismiss, then offer "Undo dismiss" in a message. The offer is a background task: the
    command answers at once, and a user who never answers blocks nothing."""
    a: DismissArgs = parse(DismissArgs, args)
    finding = ls.published.finding(a.uri, a.fingerprint)
    await ls.published.record_outcome(a.uri, a.fingerprint, "rejected", a.reason)
    what = finding.message if finding is not None else a.fingerprint
    ls.spawn(offer_undo(ls, a.uri, a.fingerprint, what))
    ls.rule_offers.after_outcome()  # a proposed rule, if the record now supports one
    return {"ok": True}


async def offer_undo(ls: KaizenServer, uri: str, fingerprint: str, what: str) -> None:
    """``window/showMessageRequest`` with "Undo dismiss"; choosing it undismisses the
    finding (the ``undismiss_finding`` tool) and reviews the open documents again."""
    from ..tools.table import TOOLS, Context, ToolError

    try:
        answer = await ls.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Info,
                message=f"Kaizen: dismissed \u201c{what[:80]}\u201d",
                actions=[types.MessageActionItem(title=UNDO_DISMISS)],
            )
        )
    except Exception as exc:  # a client without message requests: `kaizen undismiss` remains
        log.info("no answer to the undo offer: %s", exc)
        return
    store = ls.services.store
    if answer is None or answer.title != UNDO_DISMISS or store is None:
        return
    doc = ls.snapshot(uri)
    args = {"target": fingerprint, "repository": doc.repository if doc else None}
    try:
        await asyncio.to_thread(
            TOOLS["undismiss_finding"].call, Context(store, ls.settings), args, mode="editor"
        )
    except ToolError as exc:
        ls.notify_once(f"Kaizen: could not undo the dismissal: {exc}", types.MessageType.Error)
        return
    review_open_documents(ls)


def review_open_documents(ls: KaizenServer) -> None:
    """After an undismiss: every open document is reviewed again (unchanged units come from
    the review cache, so no model is asked), bringing back what the dismissal hid."""
    for uri in list(ls.workspace.text_documents):
        ls.scheduler.schedule(uri)


class PullRequestArgs(_Args):
    uri: str
    fingerprint: str


@command("kaizen.listRefactors")
async def list_refactors(ls: KaizenServer, args: dict[str, Any]) -> Any:
    return ls.published.refactors(args.get("uri"))


@command("kaizen.createPullRequest")
async def create_pull_request_command(ls: KaizenServer, args: dict[str, Any]) -> Any:
    from ..app.pull_requests import create_pull_request
    from ..github import PullRequestError

    a: PullRequestArgs = parse(PullRequestArgs, args)
    state = ls.published.get(a.uri)
    finding = ls.published.finding(a.uri, a.fingerprint)
    doc = ls.snapshot(a.uri)
    if finding is None or finding.pipeline != "refactor" or doc is None or state is None:
        raise CommandError("no such refactor in this document; run the refactor pipeline first")
    # The PR carries the text the refactor was computed on, with its edit applied.
    analysed = Document(
        uri=doc.uri,
        path=doc.path,
        text=state.text,
        version=state.version,
        language_id=doc.language_id,
    )
    try:
        outcome = await create_pull_request(ls.services, analysed, finding)
    except PullRequestError as exc:
        raise CommandError(str(exc)) from None
    if not ls.settings.status_notifications:  # Kaizen's own client shows it with an Open button
        ls.notify_once(f"Kaizen opened pull request #{outcome.number}: {outcome.url}")
    return outcome.as_json()


class LearningsArgs(_Args):
    query: str | None = None
    limit: int = 50
    repository: str | None = None


class DeleteLearningArgs(_Args):
    id: int


def _memory(ls: KaizenServer) -> Any:
    if ls.services.store is None or ls.services.loop is None:
        raise CommandError(ls.services.store_error or "Kaizen's memory is not open yet")
    return ls.services.loop


@command("kaizen.listLearnings")
async def list_learnings_command(ls: KaizenServer, args: dict[str, Any]) -> Any:
    from ..memory.catalog import list_learnings, search_learnings

    a: LearningsArgs = parse(LearningsArgs, args)
    loop = _memory(ls)
    if a.query:
        return await asyncio.to_thread(
            search_learnings,
            loop.store,
            loop.embedder,
            a.query,
            repository=a.repository,
            limit=a.limit,
        )
    return await asyncio.to_thread(
        list_learnings, loop.store, repository=a.repository, limit=a.limit
    )


@command("kaizen.deleteLearning")
async def delete_learning_command(ls: KaizenServer, args: dict[str, Any]) -> Any:
    from ..memory.catalog import delete_learnings

    a: DeleteLearningArgs = parse(DeleteLearningArgs, args)
    removed = await asyncio.to_thread(delete_learnings, _memory(ls).store, [a.id])
    if not removed:
        raise CommandError(f"no learning with id {a.id}")
    return {"ok": True}


@command("kaizen.documentInfo")
async def document_info(ls: KaizenServer, args: dict[str, Any]) -> Any:
    """What the server holds for a document (version, length, hash): for checking that the
    server's text matches the editor's, and for bug reports."""
    import hashlib

    a: UriArgs = parse(UriArgs, args)
    doc = ls.workspace.text_documents.get(a.uri)
    if doc is None:
        raise CommandError(f"{a.uri} is not open")
    state = ls.published.get(a.uri)
    return {
        "version": doc.version,
        "length": len(doc.source),
        "sha256": hashlib.sha256(doc.source.encode("utf-8", "surrogatepass")).hexdigest(),
        "diagnostics": len(state.findings) if state else 0,
    }


def handlers() -> dict[str, Callable[..., Awaitable[Any]]]:
    """The editor's own commands, as ``workspace/executeCommand`` runs them (the tool
    table's come from ``tool_commands``; ``command_names`` lists both for ``initialize``)."""
    return {name: wrap(name, handler) for name, handler in COMMANDS.items()}


def wrap(name: str, handler: Handler) -> Callable[..., Awaitable[Any]]:
    async def run(ls: KaizenServer, *args: Any) -> Any:
        argument = args[0] if args else {}
        if argument is None or argument == []:  # Lua sends an empty table as []
            argument = {}
        if not isinstance(argument, dict):
            raise CommandError(f"{name} takes one JSON object as its argument")
        try:
            return await handler(ls, argument)
        except CommandError as exc:
            ls.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=f"{name}: {exc}")
            )
            raise

    run.__name__ = name.replace(".", "_")
    return run

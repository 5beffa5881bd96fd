"""The code actions of a published finding: its fix (quick fix or refactor), a pull request
for a refactor, and Dismiss; plus "apply to N similar places" after an accepted static fix.
Imported on the first ``textDocument/codeAction``, not while ``initialize`` waits.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from ..core.findings import Finding, split_lines
from ..pipelines.verify import deletion_span, is_deletion
from . import convert
from .server import KaizenServer

QUICKFIX = types.CodeActionKind.QuickFix
REFACTOR = types.CodeActionKind.RefactorRewrite


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

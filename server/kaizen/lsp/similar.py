"""The editor side of fix all similar (``pipelines.similar``): after the user accepts a
static fix (a linter's or an ast-grep rule's), one code action "Kaizen: apply to N similar
places" edits every other place of the same rule in the workspace in one WorkspaceEdit;
choosing it records each place as accepted.

The offer lives on the server (per URI, until used or replaced); the command that accepts
it names only the URI, so a client cannot make Kaizen record places it did not offer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

from ..core.document import Document
from ..core.findings import Finding
from ..pipelines.linters import ORIGINS
from ..pipelines.similar import files_like, similar_places
from ..rules.astgrep_run import ORIGIN as RULE_ORIGIN
from . import convert
from .session import Session

COMMAND = "kaizen.acceptSimilar"
STATIC_ORIGINS = ORIGINS | {RULE_ORIGIN}


@dataclass
class Offer:
    code: str
    places: list[tuple[Document, Finding]]


class SimilarFixes:
    def __init__(self, server: Session) -> None:
        self.server = server
        self.offers: dict[str, Offer] = {}

    async def offer(self, doc: Document, accepted: Finding) -> int:
        """Look for the accepted finding's rule elsewhere; returns how many places."""
        self.offers.pop(doc.uri, None)
        if accepted.origin not in STATIC_ORIGINS or not accepted.code or doc.root is None:
            return 0
        on_disk = await asyncio.to_thread(_read_all, doc.root, doc.path)  # off the event loop
        open_docs = self.server.workspace.text_documents
        docs = [(self.server.snapshot(d.uri) if d.uri in open_docs else d) or d for d in on_disk]
        places = await similar_places(accepted.code, docs, self.server.services.analyze)
        # the accepted place itself, should the editor's edit not have reached us yet
        places = [
            (d, f)
            for d, f in places
            if not (d.uri == doc.uri and f.fingerprint == accepted.fingerprint)
        ]
        if places:
            self.offers[doc.uri] = Offer(accepted.code, places)
        return len(places)

    def code_actions(self, uri: str) -> list[types.CodeAction]:
        offer = self.offers.get(uri)
        if offer is None:
            return []
        codec = self.server.workspace.position_codec
        changes: dict[str, list[types.TextEdit]] = {}
        for doc, f in offer.places:
            changes.setdefault(doc.uri, []).extend(convert.text_edits(codec, doc.lines, f))
        n = len(offer.places)
        return [
            types.CodeAction(
                title=f"Kaizen: apply to {n} similar place{'s' if n != 1 else ''} ({offer.code})",
                kind=types.CodeActionKind.QuickFix,
                edit=types.WorkspaceEdit(changes=changes),
                command=types.Command(
                    title="Record outcomes", command=COMMAND, arguments=[{"uri": uri}]
                ),
            )
        ]

    async def accept(self, uri: str) -> dict[str, Any]:
        """The user applied the offer: each place is an accepted finding."""
        offer = self.offers.pop(uri, None)
        if offer is None:
            return {"accepted": 0}
        services = self.server.services
        for doc, f in offer.places:
            if services.store is not None:  # a place never reviewed has no row yet
                await asyncio.to_thread(
                    services.store.save_findings, None, doc.repository, doc.uri, doc.language, [f]
                )
            await services.record_outcome(doc, f, "accepted", None)
        return {"accepted": len(offer.places)}


def _read_all(root: Path, like: Path) -> list[Document]:
    """The workspace's files of ``like``'s language as documents (unreadable ones left out)."""
    docs = []
    for path in files_like(root, like):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        docs.append(Document(uri=path.resolve().as_uri(), path=path.resolve(), text=text))
    return docs

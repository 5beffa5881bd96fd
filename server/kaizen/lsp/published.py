"""What the editor was last shown for each document, and what the user did with it.

One ``Published`` per open URI: the version and lines the findings were computed on (ranges
and fixes refer to those lines) and the findings by fingerprint. Outcomes come back here:
an accepted fix or a dismissal (``record_outcome``), and a finding that vanished after the
user's own edit of its lines (fixed by hand, noticed when the next result is published).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types

from ..core.document import Document
from ..core.findings import Finding
from . import convert
from .session import Session


@dataclass
class Published:
    """What was last published for a URI: the lines it was computed on and its findings."""

    version: int | None
    text: str
    lines: list[str]
    findings: dict[str, Finding] = field(default_factory=dict)


class PublishedFindings:
    def __init__(self, server: Session) -> None:
        self.server = server
        self.by_uri: dict[str, Published] = {}
        # (uri, pipeline) -> the state its findings were last shown in, until that
        # pipeline publishes a full result for a newer version (record_fixed_by_hand)
        self.unjudged: dict[tuple[str, str], Published] = {}

    def get(self, uri: str) -> Published | None:
        return self.by_uri.get(uri)

    def finding(self, uri: str, fingerprint: str) -> Finding | None:
        state = self.by_uri.get(uri)
        return state.findings.get(fingerprint) if state else None

    def forget(self, uri: str) -> None:
        """The document closed: nothing of it stays on screen."""
        self.by_uri.pop(uri, None)
        for key in [k for k in self.unjudged if k[0] == uri]:
            del self.unjudged[key]
        self.server.services.forget(uri)
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

    def publish(
        self, doc: Document, pipeline: str, findings: list[Finding], partial: bool = False
    ) -> None:
        """Replace ``pipeline``'s findings for ``doc`` (other pipelines' stay when the text
        they were computed on is the same) and send the diagnostics. ``partial``: the
        instant publish before the model answered (nothing is judged fixed by hand on it)."""
        state = self.by_uri.get(doc.uri)
        if state is not None and state.version != doc.version:
            # a new version: what each pipeline showed on the old one is judged (fixed by
            # hand?) when that pipeline's result for the new one comes, even if an instant
            # publish replaces the state first
            for p in {f.pipeline for f in state.findings.values()}:
                self.unjudged.setdefault((doc.uri, p), state)
        if state is not None and not partial:
            before = self.unjudged.pop((doc.uri, pipeline), None) or state
            self.server.spawn(self.record_fixed_by_hand(doc, before, pipeline, findings))
        if state is None or state.version != doc.version:
            keep = (
                {}
                if state is None
                else {
                    fp: f
                    for fp, f in state.findings.items()
                    if f.pipeline != pipeline and state.lines == doc.lines
                }
            )
            state = Published(doc.version, doc.text, doc.lines, keep)
            self.by_uri[doc.uri] = state
        state.findings = {fp: f for fp, f in state.findings.items() if f.pipeline != pipeline}
        state.findings.update({f.fingerprint: f for f in findings})
        self.send(doc.uri)

    def send(self, uri: str) -> None:
        server = self.server
        state = self.by_uri.get(uri)
        codec = server.workspace.position_codec
        diagnostics = (
            []
            if state is None
            else [convert.to_diagnostic(codec, state.lines, f) for f in state.findings.values()]
        )
        # The version only when it is still the document's: after an accepted fix the
        # editor is ahead, and clients such as Helix drop publishes for other versions.
        current = server.workspace.text_documents.get(uri)
        version = state.version if state and current and current.version == state.version else None
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    async def record_fixed_by_hand(
        self, doc: Document, before: Published, pipeline: str, findings: list[Finding]
    ) -> None:
        """A finding gone after the user's own edit of its lines was fixed by hand."""
        now = {f.fingerprint for f in findings}
        text = doc.text
        for f in list(before.findings.values()):
            if f.pipeline != pipeline or f.fingerprint in now:
                continue
            flagged = "\n".join(before.lines[f.start_line - 1 : f.end_line]).strip()
            if flagged and flagged not in text:
                await self.server.services.record_outcome(
                    doc, f, "fixed_by_hand", None, before.lines
                )

    async def record_outcome(
        self, uri: str, fingerprint: str, outcome: str, reason: str | None = None
    ) -> None:
        """The user accepted a fix or dismissed a finding: remember it, update diagnostics."""
        services = self.server.services
        state = self.by_uri.get(uri)
        finding = state.findings.pop(fingerprint, None) if state else None
        lines = state.lines if state else None
        for (at, _pipeline), old in self.unjudged.items():  # shown on an older version
            earlier = old.findings.pop(fingerprint, None) if at == uri else None
            if finding is None and earlier is not None:
                finding, lines = earlier, old.lines
        doc = self.server.snapshot(uri)
        if finding is not None and doc is not None and lines is not None:
            await services.record_outcome(doc, finding, outcome, reason, lines)
        elif services.store is not None and doc is not None:
            status = "accepted" if outcome == "accepted" else "rejected"
            await asyncio.to_thread(
                services.store.set_outcome, doc.repository, fingerprint, status, reason
            )
        if state is not None:
            self.send(uri)

    def refactors(self, uri: str | None = None) -> list[dict[str, Any]]:
        """The refactor opportunities on screen (all documents, or one)."""
        out = []
        for at, state in self.by_uri.items():
            if uri and at != uri:
                continue
            for f in state.findings.values():
                if f.pipeline != "refactor":
                    continue
                out.append(
                    {
                        "uri": at,
                        "fingerprint": f.fingerprint,
                        "title": f.title or f.message,
                        "hasChange": f.has_fix,
                        "range": {"startLine": f.start_line - 1, "endLine": f.end_line - 1},
                    }
                )
        return out

"""The closed learning loop, as one object the server and the CLI share.

Before a run: ``learnings`` finds what this repository taught us for the task at hand, and
``suppress`` drops findings the user already dismissed (same fingerprint, or the same words
about alike code within the dismissal's scope, ``memory.dismissals``). After a run:
``record_run`` turns its findings into insights. When the editor reports an outcome:
``record_outcome``. Every method is synchronous (callers use a thread) and never raises
into a run: a memory failure costs a learning, not a review.
"""

from __future__ import annotations

import getpass
import logging
import math
from collections.abc import Sequence

from ..config import Settings
from ..core.document import Document, Learnings
from ..core.embed import Embedder, make_embedder
from ..core.findings import Finding
from . import dismissals, insights
from .learnings import retrieve
from .search import ensure_index
from .store import Store

log = logging.getLogger(__name__)
NEAR_DUPLICATE = 0.92  # cosine above which a finding repeats a dismissed one


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(math.fsum(x * x for x in a))
    nb = math.sqrt(math.fsum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def suppress_dismissed(findings: list[Finding], reasons: dict[str, str | None]) -> list[Finding]:
    """The findings whose fingerprint the user did not dismiss; the others get the reason
    in ``suppressed`` (``reasons``: fingerprint -> the user's reason or None)."""
    kept = []
    for f in findings:
        # a dismissal recorded before fingerprints were always scoped matches the plain one
        by = next((fp for fp in (f.fingerprint, f.unscoped) if fp and fp in reasons), None)
        if by is not None:
            f.suppressed = reasons[by] or "dismissed"
            f.suppressed_by = by
        else:
            kept.append(f)
    return kept


class LearningLoop:
    def __init__(self, store: Store, settings: Settings, embedder: Embedder | None = None) -> None:
        self.store = store
        self.settings = settings
        learn = settings.learnings
        self.embedder = embedder or make_embedder(learn.embedding_model)
        self.recorded_by = _user()
        with store.write_engine.begin() as conn:
            ensure_index(conn, self.embedder)

    def learnings(self, doc: Document, task: str, query: str) -> Learnings:
        learn = self.settings.learnings
        try:
            return retrieve(
                self.store.engine,
                self.embedder,
                query=query,
                task=task,
                repository=doc.repository,
                language=doc.language,
                limit=learn.limit,
                token_budget=learn.token_budget,
            )
        except Exception:
            log.exception("learnings lookup failed; continuing without")
            return Learnings()

    def suppress(self, doc: Document, findings: list[Finding]) -> list[Finding]:
        """Drop what the user dismissed before: same fingerprint, or near-identical words.
        Each dropped finding says why in ``suppressed``.

        The fingerprint check is exact and needs only the findings table; the words check
        needs the embedder (a provider's, over the network, when one is configured). A
        failing embedder costs the words check only: a dismissal by fingerprint holds
        whatever else is unavailable (before, one exception showed every dismissed
        finding again, e.g. in CI without the embedding provider's key).
        """
        kept = suppress_dismissed(findings, self.store.rejected_reasons(doc.repository))
        try:
            return self._suppress_similar(doc, kept)
        except Exception:
            log.exception("could not compare findings with dismissed ones; exact matches only")
            return kept

    def _suppress_similar(self, doc: Document, kept: list[Finding]) -> list[Finding]:
        """Findings like a dismissed one: same kind, near-identical words, alike code, and
        inside the dismissal's reach (``review.dismissScope``). The cheap checks come first,
        so the embedder only runs for findings some dismissal could reach."""
        scope = self.settings.review.dismiss_scope
        if scope == "finding" or not kept:
            return kept
        every = dismissals.dismissed(self.store, doc.repository)
        candidates: dict[int, list[dismissals.Dismissed]] = {}
        for i, f in enumerate(kept):
            flagged = "\n".join(doc.lines[f.start_line - 1 : f.end_line])
            reach = [
                d
                for d in every
                if d.code == (f.code or f.category)
                and dismissals.in_scope(d.uri, doc.uri, scope)
                and dismissals.code_alike(d.flagged, flagged)
            ]
            if reach:
                candidates[i] = reach
        if not candidates:
            return kept
        pairs = [(i, d) for i, reach in candidates.items() for d in reach]
        # the dismissal's words as stored (its message, not a refactor's title) on both sides
        texts = [d.key for _, d in pairs] + [
            f"[{kept[i].code or kept[i].category}] {kept[i].message}" for i in candidates
        ]
        vectors = self.embedder.embed(texts)
        new = dict(zip(candidates, vectors[len(pairs) :], strict=True))
        out = []
        for i, f in enumerate(kept):
            like = next(
                (
                    d
                    for (j, d), o in zip(pairs, vectors[: len(pairs)], strict=True)
                    if j == i and cosine(new[i], o) >= NEAR_DUPLICATE
                ),
                None,
            )
            if like is not None:
                log.info("suppressed %s: like dismissed %s", f.fingerprint, like.fingerprint)
                f.suppressed = f"like a dismissed finding: {like.describe()}"
                f.suppressed_by = like.fingerprint
                continue
            out.append(f)
        return out

    def record_run(
        self,
        doc: Document,
        run_id: int | None,
        findings: list[Finding],
        ignored: Sequence[str] = (),
    ) -> list[int]:
        # Insights carry redacted code, and none at all when only the open document may be
        # sent (learnings flow into prompts for other files).
        lines = [] if self.settings.send_only_open_document else doc.safe_lines
        items = [
            item
            for f in findings
            for item in insights.from_finding(
                f, lines, doc.repository, doc.language, doc.relpath, run_id
            )
        ]
        items += [
            insights.from_outcome(f, "ignored", lines, doc.repository, doc.language)
            for f in findings
            if f.fingerprint in ignored
        ]
        return insights.record(self.store.engine, self.embedder, items, self.recorded_by)

    def record_outcome(
        self,
        doc: Document,
        finding: Finding,
        outcome: str,
        lines: Sequence[str],
        reason: str | None = None,
    ) -> list[int]:
        """accepted | rejected | fixed_by_hand: the finding's status and a new insight."""
        flagged = "\n".join(lines[finding.start_line - 1 : finding.end_line])
        self.store.set_outcome(doc.repository, finding.fingerprint, outcome, reason, flagged)
        item = insights.from_outcome(finding, outcome, lines, doc.repository, doc.language, reason)
        if self.settings.send_only_open_document:
            item.detail = ""  # no code from this file may reach prompts for other files
        return insights.record(self.store.engine, self.embedder, [item], self.recorded_by)

"""The refactor pipeline: scan -> opportunities -> improvements -> (pr) -> learn.

Like auto-fix it reviews only the units that changed (``review``), each with its context
pack; an improvement is generated on the opportunity's own unit and may only touch it, once
the opportunities are filtered against dismissals and weighed, and only for those shown
that the last run did not improve already (``fix_trigger``).

Opportunities are shown as Hint/Information diagnostics with their own codes
(``refactor/<kind>``) so editors can filter them apart from issues. Each of the first few
gets an improvement (a line-range replacement verified by ``verify``) the user can apply, or
send as a pull request. A pull request is only ever opened by an explicit user action or the
user's own ``autoCreatePR`` setting, never because a model said so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from ..core.document import Document
from ..core.findings import (
    Finding,
    clamp_finding,
    line_ending,
    line_replacement,
)
from ..languages.units import Unit
from . import prompts
from .base import RunResult, RunScope, run_pipeline
from .context import RunContext
from .fix_trigger import FIXES, Reviewed, cache_reviewed, to_fix
from .grounding import Dropped, clean_rationale, ground
from .review import (
    batch_context,
    batch_lines,
    start_review,
)
from .verify import Lint, Proposed, Rejected, pre_pass, verify

log = logging.getLogger(__name__)
PIPELINE = "refactor"
MAX_IMPROVEMENTS = 3
_KIND = re.compile(r"[^a-z0-9-]+")


def kind_slug(kind: str) -> str:
    return _KIND.sub("-", kind.strip().lower()).strip("-")[:40] or "other"


def opportunities_to_findings(
    report: prompts.OpportunityReport,
    doc: Document,
    model: str | None,
    cited: Mapping[str, str] | None = None,
) -> tuple[list[Finding], int, list[tuple[Finding, Dropped]]]:
    """Like ``autofix.issues_to_findings``: kept, out of range, dropped by grounding (and a
    team rule the prompt carried, when the opportunity names one, as its code)."""
    found: list[Finding] = []
    dropped = 0
    ungrounded: list[tuple[Finding, Dropped]] = []
    for item in report.opportunities:
        kind = kind_slug(item.kind)
        f = Finding(
            pipeline=PIPELINE,
            category=kind,
            code=f"refactor/{kind}",
            severity="hint" if item.impact == "low" else "info",
            start_line=item.line,
            end_line=item.end_line or item.line,
            message=item.title.strip() + (f": {item.message.strip()}" if item.message else ""),
            rationale=clean_rationale(item.rationale),
            origin="model",
            model=model,
            title=item.title.strip(),
        )
        if item.rule and cited and item.rule in cited:
            f.code, f.code_url = item.rule, cited[item.rule]
        if clamp_finding(f, doc.lines) is None:
            dropped += 1
            continue
        kept = ground(doc.safe_lines, f, item.snippet)
        if isinstance(kept, Dropped):
            ungrounded.append((f, kept))
            continue
        found.append(kept)
    return found, dropped, ungrounded


async def attach_improvement(
    answer: prompts.Improvement,
    finding: Finding,
    doc: Document,
    unit: Unit | None = None,
    lint: Lint = True,
) -> Rejected | None:
    """The improvement as a verified edit on its opportunity (``verify``; ``unit``: the
    opportunity's unit, the only lines it may touch); why not, when it was refused."""
    if not 1 <= answer.start_line <= answer.end_line <= len(doc.lines):
        return Rejected(
            "fix-range", f"lines {answer.start_line}-{answer.end_line} are not in the document"
        )
    edit = line_replacement(
        doc.lines, answer.start_line, answer.end_line, answer.replacement, line_ending(doc.text)
    )
    proposal = Proposed(
        finding,
        [edit],
        answer.summary.strip() or finding.title or "",
        delete=answer.delete,
        unit_lines=unit.lines if unit is not None else None,
    )
    [why] = await verify(doc, [proposal], lint)
    if why is not None:
        return why
    finding.edits = proposal.edits
    finding.fix_title = proposal.title or None
    if answer.rationale.strip():
        finding.rationale = answer.rationale.strip()
    return None


async def run_refactor(doc: Document, ctx: RunContext) -> RunResult:
    async def phases(scope: RunScope) -> list[Finding]:
        if not doc.text.strip() or ctx.settings.static_prepass.only:
            return []
        return await _opportunities(doc, ctx, scope)

    return await run_pipeline(PIPELINE, doc, ctx, phases, _improve_shown)


async def _opportunities(doc: Document, ctx: RunContext, scope: RunScope) -> list[Finding]:
    if not scope.may_send():
        return []
    review = await start_review(scope, doc, ctx, "opportunity_detector")
    plan, findings, total, done = review.plan, review.findings, review.total, 0
    query = review.query(doc.safe_lines) if review.batches else ""  # no redaction unsent
    failed = False
    for batch in review.batches:
        scope.progress(
            f"opportunities {done + 1} of {total} definitions" if total > 1 else "opportunities"
        )
        numbers = batch_lines(batch)
        report, learned = await scope.prompt(
            "opportunity_detector",
            query,
            code=prompts.numbered_lines(doc.safe_lines, numbers),
            context=batch_context(batch),
        )
        done += len(batch)
        if report is None:
            failed = True
            continue
        scope.answered(len(batch))
        found, dropped, ungrounded = opportunities_to_findings(
            report, doc, scope.result.totals.model, (await scope.applied_rules()).cited
        )
        await scope.dropped("opportunity_detector", ungrounded)
        kept = [(f, o) for f in found if (o := plan.unit_for(f.start_line, batch)) is not None]
        scope.result.dropped += dropped + len(found) - len(kept)
        for f, _ in kept:
            f.learnings, f.learnings_used = list(learned.insight_ids), bool(learned.insight_ids)
        for p in batch:  # a window's unit is cached with what it carried (shown already)
            scope.reviewed.append(Reviewed(p, [f for f, o in kept if o is p] + p.carried))
        findings.extend(f for f, _ in kept)
    if not failed:
        scope.result.error = None  # failed improvements leave the opportunities standing
    return findings


async def _improve_shown(scope: RunScope, shown: list[Finding]) -> None:
    """Improvements for the first shown opportunities that need one (``fix_trigger``), then
    the reviewed units go to the cache."""
    doc, key = scope.doc, (scope.doc.uri, PIPELINE)
    before = FIXES.recall(key)
    wanted = to_fix(scope.reviewed, shown, before, doc.lines)[:MAX_IMPROVEMENTS]
    error = scope.result.error
    asked: set[str] = set()
    for f, owner in wanted:
        answer, _ = await scope.prompt(
            "improvement_generator",
            f"{f.title}\n{f.message}",
            code=prompts.numbered_lines(doc.safe_lines, owner.unit.lines),
            context=owner.pack.text,
            title=f.title or f.category,
            message=f.message,
            start_line=f.start_line,
            end_line=f.end_line,
        )
        if answer is not None:
            lint = pre_pass(scope.ctx.settings.static_prepass)
            why = await attach_improvement(answer, f, doc, owner.unit, lint)
            if why is not None:  # the opportunity stays, without an edit
                await scope.dropped("improvement_generator", [(f, why)])
            asked.add(f.fingerprint or "")
    scope.result.error = error
    cache_reviewed(scope, scope.reviewed, set())
    FIXES.remember(key, shown, doc.lines, asked, before)

"""The auto-fix pipeline: scan -> detect -> fix -> learn, one run per document version.

Static findings (the ruff pre-pass) come first and are listed to the model as already
reported. Only the review units that changed since they were last reviewed go to the model
(``review``), batched, each with its context pack; the others keep their cached findings.
The model's issues are validated against the document. Once they are fingerprinted,
filtered against dismissals and weighed (``fix_trigger``: only findings that will be shown
and that the last run did not fix already), one fix-generator call per group of units
proposes a line-range replacement for each, inside the issue's own unit, and every edit is
checked before it can become a quick fix.
"""

from __future__ import annotations

import logging

from ..core.document import Document
from ..core.findings import (
    Finding,
    clamp_finding,
    edit_is_valid,
    line_ending,
    line_replacement,
    locate_snippet,
    touches_redacted,
)
from . import prompts
from .base import RunResult, RunScope, run_pipeline
from .context import RunContext
from .fix_trigger import FIXES, Reviewed, cache_reviewed, fix_groups, to_fix
from .grounding import Dropped, clean_rationale, ground
from .review import (
    BATCHES_IN_FLIGHT,
    Plan,
    Planned,
    batch_context,
    batch_lines,
    in_parallel,
    start_review,
)

log = logging.getLogger(__name__)
PIPELINE = "autofix"


def already_reported(static: list[Finding]) -> str:
    if not static:
        return ""
    items = "\n".join(f"- line {f.start_line}: {f.code} {f.message}" for f in static[:50])
    return (
        "Already reported by the linter (do not report these again; look for what a linter "
        f"cannot see: logic, intent, API misuse):\n{items}\n"
    )


def issues_to_findings(
    report: prompts.IssueReport, doc: Document, model: str | None
) -> tuple[list[Finding], int, list[tuple[Finding, Dropped]]]:
    """Validated, grounded findings; how many items were out of range; and the items
    grounding dropped, with why (see ``grounding.ground``)."""
    found: list[Finding] = []
    dropped = 0
    ungrounded: list[tuple[Finding, Dropped]] = []
    for item in report.issues:
        f = Finding(
            pipeline=PIPELINE,
            category=item.category.strip().lower() or "bug",
            severity=item.severity,
            start_line=item.line,
            end_line=item.end_line or item.line,
            message=item.message.strip(),
            rationale=clean_rationale(item.rationale),
            origin="model",
            model=model,
        )
        f.code = f.category
        if clamp_finding(f, doc.lines) is None:
            dropped += 1
            continue
        kept = ground(doc.safe_lines, f, item.snippet)
        if isinstance(kept, Dropped):
            ungrounded.append((f, kept))
            continue
        locate_snippet(kept, doc.safe_lines, item.snippet)
        found.append(kept)
    return found, dropped, ungrounded


def drop_static_duplicates(model_findings: list[Finding], static: list[Finding]) -> list[Finding]:
    """A model finding on a line a static finding already covers is not published twice."""
    taken = {line for f in static for line in range(f.start_line, f.end_line + 1)}
    return [f for f in model_findings if f.start_line not in taken]


def attach_fixes(
    report: prompts.FixReport,
    findings: list[Finding],
    doc: Document,
    spans: list[tuple[int, int]] | None = None,
) -> int:
    """Turn each proposed fix into a checked edit on its finding; returns how many were kept.

    ``spans``: per finding, the (first, last) line its fix may touch (its unit)."""
    kept = 0
    for fix in report.fixes:
        if not 1 <= fix.issue <= len(findings):
            continue
        finding = findings[fix.issue - 1]
        if finding.edits or not (1 <= fix.start_line <= fix.end_line <= len(doc.lines)):
            continue
        if spans is not None:
            low, high = spans[fix.issue - 1]
            if fix.start_line < low or fix.end_line > high:
                continue  # a fix may only touch the unit its issue is in
        edit = line_replacement(
            doc.lines, fix.start_line, fix.end_line, fix.replacement, line_ending(doc.text)
        )
        old = "\n".join(doc.lines[fix.start_line - 1 : fix.end_line])
        if not edit_is_valid(edit, doc.lines) or old.strip() == fix.replacement.strip():
            continue
        if touches_redacted(edit, doc.redacted):
            continue
        finding.edits = [edit]
        finding.fix_title = fix.explanation.strip() or f"Fix: {finding.message}"
        kept += 1
    return kept


def _issue_list(findings: list[Finding]) -> str:
    return "\n".join(
        f"{i}. lines {f.start_line}-{f.end_line} [{f.category}] {f.message}"
        for i, f in enumerate(findings, 1)
    )


async def run_autofix(doc: Document, ctx: RunContext) -> RunResult:
    async def phases(scope: RunScope) -> list[Finding]:
        static = await ctx.static(doc) if ctx.settings.static_prepass.enabled else []
        if not doc.text.strip() or ctx.settings.static_prepass.only:
            return list(static)
        return [*static, *await _detect_and_fix(doc, ctx, scope, static)]

    return await run_pipeline(PIPELINE, doc, ctx, phases, _fix_shown)


async def _detect_and_fix(
    doc: Document, ctx: RunContext, scope: RunScope, static: list[Finding]
) -> list[Finding]:
    if not scope.may_send():
        return []
    review = await start_review(scope, doc, ctx, "issue_detector")
    plan, total, done = review.plan, review.total, 0
    query = review.query(doc.safe_lines)

    async def one(batch: list[Planned]) -> list[Finding] | None:
        nonlocal done
        new = await _review_batch(doc, scope, plan, batch, static, query)
        done += len(batch)
        scope.progress(f"detect {done} of {total} definitions done" if total > 1 else "detect")
        return new

    # a large file's batches are asked side by side (the gateway bounds each provider)
    answers = await in_parallel([one(b) for b in review.batches], BATCHES_IN_FLIGHT)
    findings = review.findings + [f for new in answers if new for f in new]
    if all(new is not None for new in answers):
        scope.result.error = None  # a failed fix call does not fail the run: issues stand
    return findings


async def _review_batch(
    doc: Document,
    scope: RunScope,
    plan: Plan,
    batch: list[Planned],
    static: list[Finding],
    query: str,
) -> list[Finding] | None:
    """Detect in one batch of units; None when the model gave no answer (the units stay
    uncached, so the next run asks again). Fixes come later, for what is shown."""
    numbers = batch_lines(batch)
    code = prompts.numbered_lines(doc.safe_lines, numbers)
    context = batch_context(batch)
    in_batch = [f for f in static if plan.unit_for(f.start_line, batch) is not None]
    report, learned = await scope.prompt(
        "issue_detector",
        query,
        code=code,
        context=context,
        already_reported=already_reported(in_batch),
    )
    if report is None:
        return None
    findings, dropped, ungrounded = issues_to_findings(report, doc, scope.result.totals.model)
    await scope.dropped("issue_detector", ungrounded)
    owners = [plan.unit_for(f.start_line, batch) for f in findings]
    kept = [(f, o) for f, o in zip(findings, owners, strict=True) if o is not None]
    dropped += len(findings) - len(kept)  # outside the units under review
    scope.result.dropped += dropped
    survivors = set(map(id, drop_static_duplicates([f for f, _ in kept], static)))
    kept = [(f, o) for f, o in kept if id(f) in survivors]
    for f, _ in kept:
        f.learnings, f.learnings_used = list(learned.insight_ids), bool(learned.insight_ids)
    for p in batch:
        scope.reviewed.append(Reviewed(p, [f for f, o in kept if o is p]))
    return [f for f, _ in kept]


async def _fix_shown(scope: RunScope, shown: list[Finding]) -> None:
    """Fixes for the shown findings that need one (``fix_trigger``), then the reviewed
    units go to the cache. A failed fix call fails nothing: its findings stand, unfixed
    and uncached (the next run asks again)."""
    doc, key = scope.doc, (scope.doc.uri, PIPELINE)
    before = FIXES.recall(key)
    wanted = to_fix(scope.reviewed, shown, before, doc.lines)
    error = scope.result.error
    failed: set[int] = set()
    asked: set[str] = set()
    groups = fix_groups(wanted, scope.ctx.settings.review.batch_tokens)
    for i, group in enumerate(groups, 1):
        scope.progress(f"fix {i} of {len(groups)}" if len(groups) > 1 else "fix")
        if await _fix_group(doc, scope, group):
            asked.update(f.fingerprint for f, _ in group if f.fingerprint)
        else:
            failed.update(id(p) for _, p in group)
    scope.result.error = error
    cache_reviewed(scope, scope.reviewed, failed)
    FIXES.remember(key, shown, doc.lines, asked, before)


async def _fix_group(doc: Document, scope: RunScope, group: list[tuple[Finding, Planned]]) -> bool:
    """One fix-generator call for the findings of some units; False when it had no answer."""
    new = [f for f, _ in group]
    issues = _issue_list(new)
    spans = [(o.unit.start, o.unit.end) for _, o in group]
    fix_units = list({id(o): o for _, o in group}.values())
    fix_units.sort(key=lambda p: p.unit.start)
    fixes, _ = await scope.prompt(
        "fix_generator",
        issues,
        code=prompts.numbered_lines(doc.safe_lines, batch_lines(fix_units)),
        context=batch_context(fix_units),
        issues=issues,
    )
    if fixes is None:
        return False  # shown, not cached: the next run asks for their fixes again
    attach_fixes(fixes, new, doc, spans)
    return True

"""The auto-fix pipeline: scan -> detect -> fix -> learn, one run per document version.

Static findings (the ruff pre-pass) come first and are listed to the model as already
reported. Only the review units that changed since they were last reviewed go to the model
(``review``), batched, each with its context pack; the others keep their cached findings.
The model's issues are validated against the document. Once they are fingerprinted,
filtered against dismissals and weighed (``fix_trigger``: only findings that will be shown
and that the last run did not fix already), one fix-generator call per group of units
proposes a line-range replacement for each, inside the issue's own unit, and every fix is
verified (``verify``: it stays in its unit, still parses, adds no linter finding) before it
can become a quick fix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ..core.document import Document
from ..core.findings import (
    Finding,
    clamp_finding,
    line_ending,
    line_replacement,
    locate_snippet,
)
from ..languages.units import Unit
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
from .verify import Lint, Proposed, Rejected, pre_pass, verify

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
    report: prompts.IssueReport,
    doc: Document,
    model: str | None,
    cited: Mapping[str, str] | None = None,
) -> tuple[list[Finding], int, list[tuple[Finding, Dropped]]]:
    """Validated, grounded findings; how many items were out of range; and the items
    grounding dropped, with why (see ``grounding.ground``). ``cited``: the ids of the team
    rules the prompt carried (-> their file's URI); an issue naming one of them gets it as
    its code, a rule id the prompt did not carry is ignored (the model's word is data)."""
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
        if item.rule and cited and item.rule in cited:
            f.code, f.code_url = item.rule, cited[item.rule]
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


async def attach_fixes(
    report: prompts.FixReport,
    findings: list[Finding],
    doc: Document,
    units: list[Unit] | None = None,
    lint: Lint = True,
) -> list[tuple[Finding, Rejected]]:
    """Turn the proposed fixes into verified edits on their findings (``verify``); returns
    the fixes that were refused, with why, for the caller to count against the model.

    ``units``: per finding, the review unit its fix may touch. All entries for one issue
    are one fix (their edits applied together); ``lint``: also run the pre-pass linters."""
    grouped: dict[int, list[prompts.FixItem]] = {}
    refused: list[tuple[Finding, Rejected]] = []
    for fix in report.fixes:
        if not 1 <= fix.issue <= len(findings):
            continue  # names no issue of ours: nothing to attach it to
        grouped.setdefault(fix.issue, []).append(fix)
    proposals: list[Proposed] = []
    for number, fixes in sorted(grouped.items()):
        finding = findings[number - 1]
        if finding.edits:
            continue
        bad = next(
            (f for f in fixes if not 1 <= f.start_line <= f.end_line <= len(doc.lines)), None
        )
        if bad is not None:
            where = f"lines {bad.start_line}-{bad.end_line} are not in the document"
            refused.append((finding, Rejected("fix-range", where)))
            continue
        eol = line_ending(doc.text)
        edits = [
            line_replacement(doc.lines, f.start_line, f.end_line, f.replacement, eol) for f in fixes
        ]
        explanation = next((f.explanation.strip() for f in fixes if f.explanation.strip()), "")
        proposals.append(
            Proposed(
                finding,
                edits,
                explanation or f"Fix: {finding.message}",
                delete=all(f.delete for f in fixes),
                unit_lines=units[number - 1].lines if units is not None else None,
            )
        )
    for p, why in zip(proposals, await verify(doc, proposals, lint), strict=True):
        if why is not None:
            refused.append((p.finding, why))
            continue
        p.finding.edits = p.edits
        p.finding.fix_title = p.title
    return refused


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
    query = review.query(doc.safe_lines) if review.batches else ""  # no redaction unsent

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
    scope.answered(len(batch))
    cited = (await scope.applied_rules()).cited
    findings, dropped, ungrounded = issues_to_findings(
        report, doc, scope.result.totals.model, cited
    )
    await scope.dropped("issue_detector", ungrounded)
    owners = [plan.unit_for(f.start_line, batch) for f in findings]
    kept = [(f, o) for f, o in zip(findings, owners, strict=True) if o is not None]
    dropped += len(findings) - len(kept)  # outside the units under review
    scope.result.dropped += dropped
    survivors = set(map(id, drop_static_duplicates([f for f, _ in kept], static)))
    kept = [(f, o) for f, o in kept if id(f) in survivors]
    for f, _ in kept:
        f.learnings, f.learnings_used = list(learned.insight_ids), bool(learned.insight_ids)
    for p in batch:  # a window's unit is cached with what it carried (shown already)
        scope.reviewed.append(Reviewed(p, [f for f, o in kept if o is p] + p.carried))
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
    units = [o.unit for _, o in group]
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
    refused = await attach_fixes(
        fixes, new, doc, units, lint=pre_pass(scope.ctx.settings.static_prepass)
    )
    await scope.dropped("fix_generator", refused)  # the findings stay, without a fix
    return True

"""The frame every pipeline run shares: checks on the document, the run record, the model
calls with their accounting, and a clean ending whatever happens (success, failure,
cancellation by a newer edit).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..core.document import AppliedRules, Document, Learnings
from ..core.findings import Finding, assign_fingerprints
from ..core.runs import RunStatus, RunTotals
from ..core.tasks import task as task_row
from ..languages.parsed import scope_namer
from ..models.gateway import CallOutcome
from ..models.router import Choice
from ..models.task_context import TaskContext
from . import prompts
from .context import RunContext

log = logging.getLogger(__name__)

# the learnings block of a prompt: at most this share of the tokens of the code it goes
# with, and never less than the floor (the most relevant line or two always fit)
LEARNINGS_SHARE = 0.25
LEARNINGS_FLOOR_TOKENS = 100


class SkipDocument(Exception):
    """The document cannot be analysed (binary, too large); the message says why."""


@dataclass
class RunResult:
    pipeline: str
    run_id: int | None = None
    status: RunStatus = RunStatus.QUEUED
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    notices: list[str] = field(default_factory=list)
    totals: RunTotals = field(default_factory=RunTotals)
    insight_ids: list[int] = field(default_factory=list)
    dropped: int = 0  # findings the model gave that failed validation or grounding
    drops: list[str] = field(default_factory=list)  # why each grounding drop happened
    ignored: list[str] | None = None  # fingerprints shown repeatedly with no reaction
    units_reviewed: int = 0  # review units sent to a model in this run
    units_answered: int = 0  # of those, units a model answered (validly): "reviewed"
    units_cached: int = 0  # review units whose findings came from the cache
    units_skipped: int = 0  # units outside a diff, neither cached nor reviewed
    suppressed: list[Finding] = field(default_factory=list)  # dismissed before: not shown
    hidden: list[Finding] = field(default_factory=list)  # below review.minConfidence


def check_document(doc: Document, max_bytes: int) -> None:
    size = len(doc.text.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        # the same words on every save, so the editor says it once (not the size, which
        # changes with each keystroke)
        raise SkipDocument(
            f"{doc.relpath} is larger than kaizen.maxFileBytes ({max_bytes:,} bytes): not analysed"
        )
    if "\x00" in doc.text:
        raise SkipDocument(f"{doc.relpath} looks binary (it contains NUL bytes): not analysed")


class RunScope:
    """Tracks one run: its status, its model attempts, its totals and the unit reviews it
    produced. The database sees a run twice: once when it starts (so a crash leaves a trace
    that the next start marks failed) and once when it ends, in one write transaction with
    its calls, findings and cache entries."""

    def __init__(self, pipeline: str, doc: Document, ctx: RunContext) -> None:
        self.pipeline = pipeline
        self.doc = doc
        self.ctx = ctx
        self.result = RunResult(pipeline)
        self.calls: list[CallOutcome] = []
        self.cache_entries: dict[str, list[dict[str, Any]]] = {}
        self.cache_hits: list[str] = []
        self.recording: list[asyncio.Future[None]] = []  # successful attempts being recorded
        self._rules: AppliedRules | None = None
        self.learned: dict[str, asyncio.Future[Learnings]] = {}  # per task, once per run
        self.reviewed: list[Any] = []  # fix_trigger.Reviewed: units the model reviewed now

    async def applied_rules(self) -> AppliedRules:
        """The team rules of this document (read once per run); their problems (a bad
        front matter, a file cut to its budget) become the run's notices."""
        if self._rules is None:
            self._rules = await self.ctx.rules(self.doc)
            notices = self.result.notices
            notices.extend(p for p in self._rules.problems if p not in notices)
        return self._rules

    async def start(self) -> None:
        self.result.run_id = await self.ctx.db(
            "start_run",
            self.pipeline,
            self.doc.uri,
            self.doc.repository,
            self.doc.language,
            self.doc.version,
        )

    async def status(self, status: RunStatus, model: str | None = None) -> None:
        self.result.status = status
        self.ctx.on_status(status, model)

    def progress(self, message: str) -> None:
        """What is still pending, for the editor's progress ("detect 2 of 5 definitions")."""
        self.ctx.on_progress(f"{self.pipeline}: {message}")

    def answered(self, units: int) -> None:
        """A detector answered for ``units`` review units: they were reviewed (units only
        sent, to a model that failed or was unreachable, were not)."""
        self.result.units_answered += units

    def cache(self, unit_hash: str, findings: list[dict[str, Any]]) -> None:
        """A unit reviewed in this run: its findings go to the review cache at the end."""
        self.cache_entries[unit_hash] = findings

    async def _attempt(self, outcome: CallOutcome) -> None:
        totals = self.result.totals
        totals.prompt_tokens += outcome.prompt_tokens
        totals.completion_tokens += outcome.completion_tokens
        totals.cost_usd += outcome.cost_usd
        totals.latency_ms += outcome.latency_ms
        if outcome.predicted is not None and outcome.predicted.cost_usd is not None:
            totals.predicted_cost_usd += outcome.predicted.cost_usd
        if outcome.ok:
            totals.provider, totals.model = outcome.target.provider, outcome.target.model
        elif outcome.error:  # the user hears it once, through the run's error
            log.info("%s via %s failed: %s", outcome.task, outcome.target.model, outcome.error)
        if self.ctx.on_attempt is None:
            self.calls.append(outcome)  # written with the run's final transaction
        elif outcome.ok:
            # recorded beside the rest of the run (finish waits for it); a failure is
            # recorded first, because it may change where the next attempt goes
            self.recording.append(
                asyncio.ensure_future(self.ctx.on_attempt(outcome, self.result.run_id))
            )
            await asyncio.sleep(0)  # let it start: the router learns the attempt at once
        else:
            await self.ctx.on_attempt(outcome, self.result.run_id)

    async def ask(
        self,
        task: str,
        messages: list[dict[str, str]],
        answer_type: type[BaseModel],
        choice: Choice,
    ) -> Any:
        """Call the routed models; the validated answer, or None when every attempt failed."""
        outcome, attempts = await self.ctx.router.call(
            task,
            messages,
            answer_type,
            path=self.doc.relpath,
            choice=choice,
            on_attempt=self._attempt,
        )
        # calls refused before they were made (predicted over budget) say so
        self.result.notices.extend(n for n in choice.notices if n not in self.result.notices)
        if outcome is None:
            errors = "; ".join(f"{_where(a)}: {a.error}" for a in attempts) or "no model"
            self.result.error = f"{task} failed ({errors})"
            return None
        return outcome.value

    def may_send(self) -> bool:
        """False (with a notice) when this document must never reach a model."""
        if reason := self.doc.not_sent_reason:
            self.result.notices.append(f"{self.doc.relpath} is not sent to any model ({reason})")
            return False
        if self._rules is not None and (reason := self._rules.ignored):
            self.result.notices.append(f"{self.doc.relpath} is not reviewed ({reason})")
            return False
        return True

    def first_model(self, task: str) -> str | None:
        """The model the router would ask first for ``task`` (part of the cache key)."""
        choice = self.ctx.router.choose(task, self.doc.relpath)
        return choice.targets[0].model if choice.targets else None

    async def prompt(
        self, task: str, query: str, *, code: str | None = None, context: str = "", **values: Any
    ) -> tuple[Any, Learnings]:
        """One prompt, start to end: route it, find its learnings (by ``query``), render it
        with the (redacted) code — all of it, or ``code`` (numbered lines of some units) —
        its ``context`` pack and ``values``, and ask. Returns the validated answer, or None
        when no model could give one, and the learnings that went into the prompt."""
        # the router's features: the code this prompt is about (the batch's units, or all)
        content = TaskContext(
            task,
            code if code is not None else "\n".join(self.doc.safe_lines),
            self.doc.language,
            run_id=self.result.run_id,
        )
        choice = self.ctx.router.choose(task, self.doc.relpath, content)
        self.result.notices.extend(n for n in choice.notices if n not in self.result.notices)
        if not choice.targets:
            if choice.error:
                self.result.error = choice.error
            return None, Learnings()
        status = task_row(task).status
        if self.result.status != status:
            await self.status(status, choice.targets[0].model)
        search = self.learned.get(task)
        if search is None:  # one search (and one embedding) per task and file, not per batch
            search = self.learned[task] = asyncio.ensure_future(
                self.ctx.learnings(self.doc, task, query)
            )
        # one block per file, cut per prompt: never larger than a share of the code it is
        # sent with (a save of one small function paid the whole block)
        learned = (await asyncio.shield(search)).within(
            max(LEARNINGS_FLOOR_TOKENS, int(content.token_count * LEARNINGS_SHARE))
        )
        values.setdefault("rules", (await self.applied_rules()).block)
        used = self.result.insight_ids
        used.extend(i for i in learned.insight_ids if i not in used)
        message = prompts.render(
            task,
            language=self.doc.language,
            path=self.doc.relpath,
            code=prompts.numbered(self.doc.safe_lines) if code is None else code,
            context=context,
            learnings=learned.block,
            **values,
        )
        answer = await self.ask(
            task, [{"role": "user", "content": message}], prompts.ANSWERS[task], choice
        )
        return answer, learned

    async def dropped(self, task: str, drops: list[tuple[Finding, Any]]) -> None:
        """Findings of one answer that grounding dropped: logged one by one, and counted
        against the model that gave them (an invalid answer in its record)."""
        if not drops:
            return
        counts: dict[str, int] = {}
        for f, why in drops:
            counts[why.kind] = counts.get(why.kind, 0) + 1
            line = f"{self.doc.relpath}:{f.start_line}: dropped {why} ({f.message[:80]!r})"
            self.result.drops.append(line)
            log.info("%s by %s: %s", task, f.model, line)
        self.result.dropped += len(drops)
        model = self.result.totals.model
        if model and self.ctx.on_dropped is not None:
            try:
                await self.ctx.on_dropped(model, task, counts)
            except Exception:
                log.exception("could not record dropped findings of %s", model)

    async def finish(
        self, status: RunStatus, error: str | None = None, save_findings: bool = False
    ) -> RunResult:
        """End the run: one write transaction for its calls, findings, cache and status."""
        self.result.status = status
        if error:
            self.result.error = error
        if self.recording:  # the attempts' rows go in before the run's own
            done = await asyncio.shield(asyncio.gather(*self.recording, return_exceptions=True))
            for problem in done:
                if isinstance(problem, BaseException):
                    log.error("could not record a model attempt", exc_info=problem)
        if self.result.run_id is not None:
            doc = self.doc
            ignored = await asyncio.shield(
                self.ctx.db(
                    "complete_run",
                    self.result.run_id,
                    status,
                    self.result.totals,
                    error=self.result.error,
                    insight_ids=self.result.insight_ids,
                    calls=list(self.calls),
                    findings=(doc.repository, doc.uri, doc.language, self.result.findings)
                    if save_findings
                    else None,
                    shown=self.ctx.shown() if callable(self.ctx.shown) else self.ctx.shown,
                    cache=(
                        doc.repository,
                        doc.relpath,
                        self.pipeline,
                        self.cache_entries,
                        self.cache_hits,
                    )
                    if self.cache_entries or self.cache_hits
                    else None,
                    cache_max_rows=self.ctx.settings.review.cache_max_units,
                )
            )
            if save_findings:
                self.result.ignored = ignored or []
        self.ctx.on_status(status, self.result.totals.model)
        return self.result


def _where(attempt: CallOutcome) -> str:
    """``model`` or ``model at URL``: what a user needs to find a wrong setting."""
    target = attempt.target
    return f"{target.model} at {target.api_base}" if target.api_base else target.model


Phases = Callable[[RunScope], Awaitable[list[Finding]]]
# after fingerprints, dismissals and confidence: work for the findings that will be shown
AfterShown = Callable[[RunScope, list[Finding]], Awaitable[None]]


def _feedback(ctx: RunContext, result: RunResult, findings: list[Finding]) -> None:
    """What the run itself says of its model: findings shown repeatedly with no reaction
    (ignored) and findings that failed validation (ungrounded) count against it."""
    feedback = getattr(ctx.router, "feedback", None)
    if feedback is None or result.run_id is None:
        return
    ignored = set(result.ignored or ())
    for f in findings:
        if f.fingerprint in ignored and f.origin == "model":
            feedback(result.run_id, f.model, "ignored")
    if result.dropped:
        feedback(result.run_id, result.totals.model, "ungrounded", result.dropped)


async def run_pipeline(
    pipeline: str,
    doc: Document,
    ctx: RunContext,
    phases: Phases,
    after_shown: AfterShown | None = None,
) -> RunResult:
    """One run: scan, the pipeline's own phases, then fingerprint, suppress, weigh, the
    pipeline's work on what will be shown (``after_shown``: fixes, improvements; a finding
    dismissed or hidden costs no call), record, learn.

    Whatever happens it ends with a recorded status: a document that cannot be analysed, a
    cancellation by a newer edit, or an exception (the run fails; the server keeps serving).
    """
    scope = RunScope(pipeline, doc, ctx)
    await scope.start()
    try:
        await scope.status(RunStatus.SCANNING)
        check_document(doc, ctx.settings.max_file_bytes)
        await scope.applied_rules()  # before any phase: review.ignore may skip the model
        findings = await phases(scope)
        assign_fingerprints(findings, doc.lines, scope_namer(doc.text, doc.language))
        shown = await ctx.suppress(doc, findings)
        kept = {id(f) for f in shown}
        scope.result.suppressed = [f for f in findings if id(f) not in kept]
        shown, scope.result.hidden = await ctx.weigh(doc, shown)
        findings = scope.result.findings = shown
        if after_shown is not None:
            await after_shown(scope, shown)
        for f in scope.result.hidden:  # counted in the result; `kaizen check` says how many
            log.info(
                "%s:%s: hidden [%s] %s (confidence %.2f: %s)",
                doc.relpath,
                f.start_line,
                f.code or f.category,
                f.message[:80],
                f.confidence or 0.0,
                f.confidence_why,
            )
        _feedback(ctx, scope.result, findings)
        # A model that failed only fails the run when it left nothing to show.
        answered = any(f.origin == "model" for f in findings)
        failed = scope.result.error is not None and not answered
        result = await scope.finish(
            RunStatus.FAILED if failed else RunStatus.SUCCEEDED, save_findings=True
        )
        if ctx.after_run is not None:
            await ctx.after_run(result, doc)
        return result
    except SkipDocument as skip:
        scope.result.notices.append(str(skip))
        return await scope.finish(RunStatus.FAILED, str(skip))
    except asyncio.CancelledError:
        # the units reviewed before the cancel and found clean are not asked again (those
        # with findings are: their fixes come after the show, which did not happen)
        for reviewed in scope.reviewed:
            if not reviewed.findings:
                scope.cache(reviewed.planned.hash, [])
        await scope.finish(RunStatus.CANCELLED, "cancelled: a newer edit or close")
        raise
    except Exception as exc:
        log.exception("%s run failed", pipeline)
        return await scope.finish(RunStatus.FAILED, f"{type(exc).__name__}: {exc}")

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

from ..models.features import TaskContext
from ..models.gateway import CallOutcome
from ..models.router import Choice
from . import prompts
from .context import Document, Learnings, RunContext
from .findings import Finding, assign_fingerprints
from .run import TASK_STATUS, RunStatus, RunTotals

log = logging.getLogger(__name__)


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
    dropped: int = 0  # findings the model gave that failed validation
    ignored: list[str] | None = None  # fingerprints shown repeatedly with no reaction


def check_document(doc: Document, max_bytes: int) -> None:
    size = len(doc.text.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise SkipDocument(
            f"{doc.relpath} is {size:,} bytes, over the {max_bytes:,}-byte limit "
            "(kaizen.maxFileBytes): not analysed"
        )
    if "\x00" in doc.text:
        raise SkipDocument(f"{doc.relpath} looks binary (it contains NUL bytes): not analysed")


class RunScope:
    """Tracks one run: its status, its model attempts and its totals."""

    def __init__(self, pipeline: str, doc: Document, ctx: RunContext) -> None:
        self.pipeline = pipeline
        self.doc = doc
        self.ctx = ctx
        self.result = RunResult(pipeline)

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
        if self.result.run_id is not None:
            await self.ctx.db("set_status", self.result.run_id, status)

    async def _attempt(self, outcome: CallOutcome) -> None:
        totals = self.result.totals
        totals.prompt_tokens += outcome.prompt_tokens
        totals.completion_tokens += outcome.completion_tokens
        totals.cost_usd += outcome.cost_usd
        totals.latency_ms += outcome.latency_ms
        if outcome.ok:
            totals.provider, totals.model = outcome.target.provider, outcome.target.model
        elif outcome.error:
            log.warning("%s via %s failed: %s", outcome.task, outcome.target.model, outcome.error)
        await self.ctx.db("record_call", self.result.run_id, outcome)
        if self.ctx.on_attempt is not None:
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
        if outcome is None:
            errors = "; ".join(f"{a.target.model}: {a.error}" for a in attempts) or "no model"
            self.result.error = f"{task} failed ({errors})"
            return None
        return outcome.value

    def may_send(self) -> bool:
        """False (with a notice) when this document must never reach a model."""
        if reason := self.doc.not_sent_reason:
            self.result.notices.append(f"{self.doc.relpath} is not sent to any model ({reason})")
            return False
        return True

    async def prompt(self, task: str, query: str, **values: Any) -> tuple[Any, Learnings]:
        """One prompt, start to end: route it, find its learnings (by ``query``), render it
        with the (redacted) code and ``values``, and ask. Returns the validated answer, or
        None when no model could give one, and the learnings that went into the prompt."""
        content = TaskContext(
            task, "\n".join(self.doc.safe_lines), self.doc.language, run_id=self.result.run_id
        )
        choice = self.ctx.router.choose(task, self.doc.relpath, content)
        self.result.notices.extend(n for n in choice.notices if n not in self.result.notices)
        if not choice.targets:
            return None, Learnings()
        if self.result.status != TASK_STATUS[task]:
            await self.status(TASK_STATUS[task], choice.targets[0].model)
        learned = await self.ctx.learnings(self.doc, task, query)
        used = self.result.insight_ids
        used.extend(i for i in learned.insight_ids if i not in used)
        message = prompts.render(
            task,
            language=self.doc.language,
            path=self.doc.relpath,
            code=prompts.numbered(self.doc.safe_lines),
            learnings=learned.block,
            **values,
        )
        answer = await self.ask(
            task, [{"role": "user", "content": message}], prompts.ANSWERS[task], choice
        )
        return answer, learned

    async def finish(self, status: RunStatus, error: str | None = None) -> RunResult:
        self.result.status = status
        if error:
            self.result.error = error
        if self.result.run_id is not None:
            await asyncio.shield(
                self.ctx.db(
                    "finish_run",
                    self.result.run_id,
                    status,
                    self.result.totals,
                    findings=len(self.result.findings),
                    error=self.result.error,
                    insight_ids=self.result.insight_ids,
                )
            )
        self.ctx.on_status(status, self.result.totals.model)
        return self.result


Phases = Callable[[RunScope], Awaitable[list[Finding]]]


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


async def run_pipeline(pipeline: str, doc: Document, ctx: RunContext, phases: Phases) -> RunResult:
    """One run: scan, the pipeline's own phases, then fingerprint, suppress, record, learn.

    Whatever happens it ends with a recorded status: a document that cannot be analysed, a
    cancellation by a newer edit, or an exception (the run fails; the server keeps serving).
    """
    scope = RunScope(pipeline, doc, ctx)
    await scope.start()
    try:
        await scope.status(RunStatus.SCANNING)
        check_document(doc, ctx.settings.max_file_bytes)
        findings = await phases(scope)
        assign_fingerprints(findings, doc.lines)
        findings = await ctx.suppress(doc, findings)
        scope.result.findings = findings
        if scope.result.run_id is not None:
            scope.result.ignored = await ctx.db(
                "save_findings",
                scope.result.run_id,
                doc.repository,
                doc.uri,
                doc.language,
                findings,
            )
        _feedback(ctx, scope.result, findings)
        # A model that failed only fails the run when it left nothing to show.
        answered = any(f.origin == "model" for f in findings)
        failed = scope.result.error is not None and not answered
        result = await scope.finish(RunStatus.FAILED if failed else RunStatus.SUCCEEDED)
        if ctx.after_run is not None:
            await ctx.after_run(result, doc)
        return result
    except SkipDocument as skip:
        scope.result.notices.append(str(skip))
        return await scope.finish(RunStatus.FAILED, str(skip))
    except asyncio.CancelledError:
        await scope.finish(RunStatus.CANCELLED, "cancelled: a newer edit or close")
        raise
    except Exception as exc:
        log.exception("%s run failed", pipeline)
        return await scope.finish(RunStatus.FAILED, f"{type(exc).__name__}: {exc}")

"""The long-lived parts of Kaizen (settings, store, router) and how a run is wired to them.

The language server and the CLI both build a ``Services`` and ask it for a ``RunContext``, so
``kaizen check`` runs exactly the pipeline the editor runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..core.document import AppliedRules, Document, Learnings
from ..core.errors import KaizenError
from ..core.findings import Finding
from ..core.runs import RunStatus
from ..core.tasks import detector_of
from ..models.gateway import CallOutcome, Gateway
from ..models.router import ModelRouter
from ..pipelines.base import RunResult
from ..pipelines.context import RunContext
from ..pipelines.prompts import is_placeholder
from ..rules.book import RuleBook

if TYPE_CHECKING:
    from ..improvement.alerts import AlertEvent, AlertMonitor
    from ..memory.loop import LearningLoop
    from ..memory.store import Store
    from ..pipelines.linters import Complaints
    from ..rules.astgrep import AstGrepRule, RuleProblem
    from ..rules.astgrep import RuleBook as AstGrepRuleBook
    from .symbols import WorkspaceSymbols

log = logging.getLogger(__name__)


CORRUPTION_SIGNS = ("file is not a database", "database disk image is malformed")


def move_aside_if_corrupt(location: str | None, exc: Exception) -> str | None:
    """Rename a damaged SQLite file (and its WAL) out of the way; None if not that case."""
    import time

    from ..memory.db import database_url

    if not any(sign in str(exc) for sign in CORRUPTION_SIGNS):
        return None
    url = database_url(location)
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    if not path.exists():
        return None
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    log.error("moved a damaged database aside to %s", target)
    return str(target)


@dataclass
class _StaticMemo:
    """One document's pre-pass: its linters' findings (a task, so the instant publish and
    the run share one linter run) for one text, its rules' for that text and rule set."""

    text_key: tuple[int | None, int]
    linted: asyncio.Future[list[Finding]]
    rules_digest: str | None = None
    matched: list[Finding] | None = None

    @property
    def failed(self) -> bool:
        done = self.linted.done()
        return done and (self.linted.cancelled() or self.linted.exception() is not None)


@dataclass
class _SnapshotRules:
    """The team rules of one document snapshot (the same ``Document`` object) under one
    ``review`` setting: its instant view and its run read them once, not three times,
    each read a hop to a worker thread that waits behind whatever else holds the GIL."""

    doc: Document
    review: Any
    applied: AppliedRules | None = None
    policy: tuple[list[Any], dict[str, str], dict[str, str]] | None = None
    # learnings searches the instant view started for the run: (task, query) -> search
    learned: dict[tuple[str, str], asyncio.Future[Learnings]] = field(default_factory=dict)


SNAPSHOTS_KEPT = 16  # documents whose rules are remembered (the editor's open ones)


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        gateway = Gateway(
            timeout_s=settings.request_timeout_s,
            max_concurrency=settings.models.max_concurrency,
        )
        self.router = ModelRouter(settings, gateway)
        self.store: Store | None = None
        self.loop: LearningLoop | None = None
        self.store_error: str | None = None
        self._static: dict[str, _StaticMemo] = {}
        self._complaints: Complaints | None = None  # linters that could not run, said once
        self._rules: AstGrepRuleBook | None = None  # .kaizen/rules/*.yml, re-read when changed
        self._told: set[str] = set()
        self._outcomes: Any = None  # memory.confidence.Outcomes, made on first use
        # the face's way to show a problem with the repository's rule files (the editor: a
        # warning message); called on the event loop, once per problem
        self.on_problem: Callable[[str], None] | None = None
        self.alerts: AlertMonitor | None = None  # made with the store
        # the face's way to tell the user about an alert (the editor: a message and a
        # kaizen/alert notification); called on the event loop
        self.on_alert: Callable[[AlertEvent], None] | None = None
        self.rulebook = RuleBook()  # the team's rules, re-read when their files change
        self._snapshots: OrderedDict[str, _SnapshotRules] = OrderedDict()
        # the workspace symbol index (``app.symbols``), made by the face that knows the root
        self.symbols: WorkspaceSymbols | None = None

    def update_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.router.update(settings)
        if self.loop is not None:
            self.loop.settings = settings

    def open_store(self) -> Store | None:
        """Open the database; on failure keep serving without memory and say why."""
        from ..memory.store import Store

        try:
            self.store = Store.open(self.settings.database_path)
            self.store_error = None
        except Exception as exc:
            moved = move_aside_if_corrupt(self.settings.database_path, exc)
            if moved is not None:
                try:
                    self.store = Store.open(self.settings.database_path)
                except Exception as again:
                    exc = again
                else:
                    self.store_error = (
                        f"Kaizen's database was damaged; it was moved aside to {moved} "
                        "(nothing deleted) and a fresh one was created"
                    )
                    return self._open_loop()
            if isinstance(exc, KaizenError):  # explained by its message: no traceback
                log.info("could not open the database: %s", exc)
            else:
                log.exception("could not open the database")
            self.store = None
            self.store_error = f"Kaizen could not open its database ({exc}); running without memory"
            return None
        return self._open_loop()

    def _open_loop(self) -> Store | None:
        from ..memory.loop import LearningLoop

        assert self.store is not None
        from ..improvement import telemetry  # noqa: F401 - imported here, off the event loop
        from ..improvement.alerts import AlertMonitor
        from ..improvement.routing_record import wire_router

        self.alerts = AlertMonitor()
        # rules, performance, spend, open degradation alerts, experiments, learned state
        wire_router(self.router, self.store, self.alerts)
        self.router.refresh()
        try:
            self.loop = LearningLoop(self.store, self.settings)
        except Exception as exc:
            log.exception("could not open the learning index")
            problem = (
                f"Kaizen's learning index is unavailable ({exc}); findings are not learned from"
            )
            self.store_error = f"{self.store_error}; {problem}" if self.store_error else problem
        return self.store

    def workspace_symbols(self, root: Path) -> WorkspaceSymbols:
        """The symbol index of ``root``, made once (persisted when the store is open)."""
        from .symbols import WorkspaceSymbols

        if self.symbols is None or self.symbols.root != root:
            self.symbols = WorkspaceSymbols(root, self.store)
        elif self.symbols.store is None:
            self.symbols.store = self.store
        return self.symbols

    async def learnings(self, doc: Document, task: str, query: str) -> Learnings:
        """The learnings block for ``task`` searched by ``query``: the search the instant
        view already started for this snapshot when it is the same one, else a new one."""
        if self.loop is None:
            return Learnings()
        memo = self._snapshots.get(doc.uri)
        started = memo.learned.pop((task, query), None) if memo and memo.doc is doc else None
        if started is not None:
            return await started
        return await asyncio.to_thread(self.loop.learnings, doc, task, query)

    def _search_ahead(self, doc: Document, task: str, plan: Any) -> None:
        """Start the run's learnings search from the instant view's plan (the run takes the
        same plan, so the same units and the same query): the search, which grows with the
        repository's insights, then runs on a worker thread while the instant view is
        published and the run starts, instead of after them on the save's path."""
        from ..pipelines.review import Review, batches

        loop, review = self.loop, self.settings.review
        if loop is None:
            return
        groups = batches(plan, review.batch_tokens, whole_file=review.scope == "file")
        if not groups:  # nothing to ask a model: no prompt, no search
            return
        query = Review(plan, [], groups).query(doc.safe_lines)
        learned = self._snapshot(doc).learned
        if (task, query) not in learned:
            learned[(task, query)] = asyncio.ensure_future(
                asyncio.to_thread(loop.learnings, doc, task, query)
            )

    async def static(self, doc: Document) -> list[Finding]:
        """The static pre-pass (the language's linters and the repository's ast-grep
        rules), computed once per document text and rule set (the instant publish and the
        run that follows it share it). The linters start at once; the rule files are
        loaded (a stat each, a changed one parsed) on a worker thread meanwhile."""
        from ..rules.astgrep_run import rule_findings

        text_key = (doc.version, hash(doc.text))
        memo = self._static.get(doc.uri)
        if memo is None or memo.text_key != text_key or memo.failed:
            memo = _StaticMemo(text_key, asyncio.ensure_future(self._lint(doc)))
            self._static[doc.uri] = memo
        try:
            rules = await asyncio.to_thread(self._rule_book().load, doc.root)
        except asyncio.CancelledError:
            raise
        except Exception:  # unreadable rules cost the rules, never the linters
            from ..rules.astgrep import NO_RULES

            log.exception("could not load the rules of %s", doc.root)
            rules = NO_RULES
        self._tell(rules.problems)
        if memo.rules_digest != rules.digest or memo.matched is None:
            mine = self._rules_for(doc, rules.rules)
            memo.matched = await asyncio.to_thread(rule_findings, doc, mine) if mine else []
            memo.rules_digest = rules.digest
        linted = await asyncio.shield(memo.linted)
        return [replace(f) for f in (*linted, *memo.matched)]

    async def analyze(self, doc: Document, rules: list[AstGrepRule] | None = None) -> list[Finding]:
        """The pre-pass on one document, unmemoised (fix-all-similar reads many): linters
        and rules at once. A linter that cannot run costs its findings and one log line."""
        from ..rules.astgrep_run import rule_findings

        if rules is None:
            rules = (await asyncio.to_thread(self._rule_book().load, doc.root)).rules
        mine = self._rules_for(doc, rules)
        if not mine:
            return await self._lint(doc)
        found, matched = await asyncio.gather(
            self._lint(doc), asyncio.to_thread(rule_findings, doc, mine)
        )
        return [*found, *matched]

    async def _lint(self, doc: Document) -> list[Finding]:
        from ..pipelines.linters import Complaints, linter_findings

        if self._complaints is None:
            self._complaints = Complaints()
        return await linter_findings(doc, self.settings.static_prepass, self._complaints)

    @staticmethod
    def _rules_for(doc: Document, rules: list[AstGrepRule]) -> list[AstGrepRule]:
        from ..rules.astgrep_run import language_of

        language = language_of(doc)
        return [r for r in rules if r.language == language]

    def warm_static(self, root: Path | None) -> None:
        """At start-up, on a thread: import the pre-pass and load ``root``'s rule files
        (YAML and ast-grep's first import, ~30 ms), so the first paint does not pay for
        them. Nothing here can fail the server: the first run loads what this did not."""
        import threading

        book = self._rule_book()

        def warm() -> None:
            try:
                from ..pipelines import linters  # noqa: F401

                book.load(root)
            except Exception:
                log.exception("could not prepare the static pre-pass")

        threading.Thread(target=warm, name="kaizen-static-warm-up", daemon=True).start()

    def _rule_book(self) -> AstGrepRuleBook:
        from ..rules.astgrep import RuleBook as AstGrepRuleBook

        if self._rules is None:
            self._rules = AstGrepRuleBook()
        return self._rules

    def _tell(self, problems: list[RuleProblem]) -> None:
        """Each problem with a rule file once (by its text: a fixed file says nothing)."""
        for problem in problems:
            text = f"Kaizen rule file {problem}; the other rules still run"
            if text in self._told:
                continue
            self._told.add(text)
            log.warning("%s", text)
            if self.on_problem is not None:
                self.on_problem(text)

    def forget(self, uri: str) -> None:
        """A document closed: drop what was computed for it."""
        self._snapshots.pop(uri, None)
        memo = self._static.pop(uri, None)
        if memo is not None and not memo.linted.done():
            memo.linted.cancel()

    async def instant(self, doc: Document, pipeline: str) -> list[Finding]:
        """What can be shown at once, without a model: the static pre-pass (auto-fix) and
        the cached findings of the units that did not change, fingerprinted and filtered
        against dismissals when the memory is open. Never imports litellm, never waits for
        the database to open."""
        from ..core.findings import assign_fingerprints
        from ..languages.parsed import scope_namer
        from ..pipelines.review import cached_findings

        settings = self.settings
        found: list[Finding] = []
        linting = pipeline == "autofix" and settings.static_prepass.enabled
        review_cached = (
            self.store is not None
            and not settings.static_prepass.only
            and doc.text.strip()
            and not doc.not_sent_reason
        )
        if review_cached:
            ctx = self.context()
            task = detector_of(pipeline) or "issue_detector"
            choice = self.router.choose(task, doc.relpath)
            model = choice.targets[0].model if choice.targets else None
            # the linters (their own processes) run while the plan is computed
            planning = self._plan_and_search(doc, ctx, pipeline, task, model)
            if linting:
                static, plan = await asyncio.gather(self.static(doc), planning)
                found.extend(static)
            else:
                plan = await planning
            found.extend(cached_findings(plan, doc.lines))
        elif linting:
            found.extend(await self.static(doc))
        assign_fingerprints(found, doc.lines, scope_namer(doc.text, doc.language))
        # not counted here: the run that follows suppresses (and counts) the same findings
        found = await self.policy(doc, found)
        return await self._suppress(doc, found) if found and self.store is not None else found

    async def _plan_and_search(
        self, doc: Document, ctx: RunContext, pipeline: str, task: str, model: str | None
    ) -> Any:
        from ..pipelines.review import plan_review

        plan = await plan_review(doc, ctx, pipeline, model)
        try:
            self._search_ahead(doc, task, plan)
        except Exception:  # a head start only: the run searches for itself
            log.exception("could not start the learnings search of %s", doc.relpath)
        return plan

    def _snapshot(self, doc: Document) -> _SnapshotRules:
        review = self.settings.review
        memo = self._snapshots.get(doc.uri)
        if memo is None or memo.doc is not doc or memo.review is not review:
            memo = self._snapshots[doc.uri] = _SnapshotRules(doc, review)
        self._snapshots.move_to_end(doc.uri)
        while len(self._snapshots) > SNAPSHOTS_KEPT:
            self._snapshots.popitem(last=False)
        return memo

    async def rules(self, doc: Document) -> AppliedRules:
        """The team rules for ``doc``'s prompts (instruction files, learned rules), read
        once per snapshot of the document."""
        memo = self._snapshot(doc)
        if memo.applied is not None:
            return memo.applied
        try:
            applied = await asyncio.to_thread(
                self.rulebook.applied, doc.root, doc.relpath, memo.review
            )
        except Exception:  # a rule file must never cost the review
            log.exception("could not read the rules for %s", doc.relpath)
            return AppliedRules()
        memo.applied = applied
        return applied

    async def policy(self, doc: Document, findings: list[Finding]) -> list[Finding]:
        """What the review policy lets through (``rules.policy.filter_findings``: the
        ``review`` settings and the suppressing rules; rule citations linked); the dropped
        findings say why in ``suppressed``. Every publish and report goes through it."""
        if not findings:
            return findings
        from ..rules.policy import filter_findings

        book = self.rulebook
        memo = self._snapshot(doc)

        def read() -> tuple[list[Any], dict[str, str], dict[str, str]]:
            return (
                book.suppressing(doc.root, doc.relpath),
                book.uris(doc.root, doc.relpath),
                book.severities(doc.root, doc.relpath),
            )

        if memo.policy is None:
            try:
                memo.policy = await asyncio.to_thread(read)
            except Exception:
                log.exception("could not read the rules for %s", doc.relpath)
                memo.policy = [], {}, {}
        rules, cite, severity = memo.policy
        return filter_findings(findings, doc.relpath, memo.review, rules, cite, severity).shown

    async def suppress(self, doc: Document, findings: list[Finding]) -> list[Finding]:
        """Drop what the review policy hides (``rules.policy``: settings, suppressing
        rules) and findings the user rejected before in this repository (each dropped one
        says why in ``suppressed``)."""
        if not findings:
            return findings
        shown = await self.policy(doc, findings)
        kept = await self._suppress(doc, shown) if shown else shown
        if len(kept) < len(findings):
            from ..improvement.telemetry import count_suppressed

            count_suppressed(findings[0].pipeline, len(findings) - len(kept))
        return kept

    async def _suppress(self, doc: Document, findings: list[Finding]) -> list[Finding]:
        from ..memory.loop import suppress_dismissed

        try:
            if self.loop is not None:
                return await asyncio.to_thread(self.loop.suppress, doc, findings)
            if self.store is None:
                return findings
            reasons = await asyncio.to_thread(self.store.rejected_reasons, doc.repository)
        except Exception:  # memory unavailable: show everything rather than nothing
            log.exception("could not check dismissed findings")
            return findings
        return suppress_dismissed(findings, reasons)

    async def weigh(
        self, doc: Document, findings: list[Finding]
    ) -> tuple[list[Finding], list[Finding]]:
        """Confidence from this repository's outcomes: (shown, hidden); the middle band is
        demoted a severity step (``memory.confidence``, ``review`` settings)."""
        if not findings or self.store is None:
            return findings, []
        from ..memory import confidence

        review = self.settings.review
        try:
            if self._outcomes is None:
                self._outcomes = confidence.Outcomes(self.store)
            record = await asyncio.to_thread(self._outcomes.record, doc.repository)
        except Exception:  # memory unavailable: show as found
            log.exception("could not read the outcomes behind confidence")
            return findings, []
        return confidence.weigh(findings, record, review.min_confidence, review.demote_below)

    async def record_outcome(
        self,
        doc: Document,
        finding: Finding,
        outcome: str,
        reason: str | None,
        lines: list[str] | None = None,
    ) -> None:
        """accepted / rejected / fixed_by_hand: stored on the finding and learned from."""
        if self.loop is not None and not is_placeholder(finding.message, finding.title):
            await asyncio.to_thread(
                self.loop.record_outcome, doc, finding, outcome, lines or doc.lines, reason
            )
        elif self.store is not None:
            flagged = "\n".join((lines or doc.lines)[finding.start_line - 1 : finding.end_line])
            await asyncio.to_thread(
                self.store.set_outcome,
                doc.repository,
                finding.fingerprint,
                outcome,
                reason,
                flagged,
            )
        if self.store is not None:  # the model that found it gets the credit or the blame
            from ..improvement.events import record_finding_outcome

            await asyncio.to_thread(record_finding_outcome, self.store, finding, outcome)
            if (outcome == "accepted" and finding.edits) or outcome == "fixed_by_hand":
                await asyncio.to_thread(
                    self._keep_fix_example, doc, finding, lines or doc.lines, outcome
                )
            if outcome == "rejected" and finding.code:
                await asyncio.to_thread(self._demote_promoted, doc, finding.code)

    def _keep_fix_example(
        self, doc: Document, finding: Finding, lines: list[str], how: str = "accepted"
    ) -> None:
        """An applied fix (or the user's own edit that made the finding go away: ``lines``
        are then the text before it, ``doc`` after) as code before and after: what
        rules.promotion learns rules from."""
        from ..memory.fix_examples import Example, example_of, hand_edits, record

        edits = finding.edits
        if how == "fixed_by_hand":
            edits = hand_edits(lines, doc.lines, finding.start_line, finding.end_line)
        pair = example_of(lines, edits)
        if pair is None or self.store is None:
            return
        kind = finding.code or finding.category
        example = Example(doc.language, kind, doc.relpath, pair[0], pair[1], how)
        try:
            record(self.store, doc.repository, example)
        except Exception:  # learning material: it never fails the outcome
            log.warning("could not keep the accepted fix as an example", exc_info=True)

    def _demote_promoted(self, doc: Document, code: str) -> None:
        """A promoted rule the team keeps dismissing goes back to being a proposal."""
        from ..rules.promoted import demote

        if doc.root is None:
            return
        try:
            demote(self.store, doc.repository, doc.root, code)
        except Exception:  # the dismissal is recorded either way
            log.warning("could not review the promoted rule %s", code, exc_info=True)

    async def learning_summaries(self, insight_ids: list[int]) -> list[str]:
        """One line per insight, for PR bodies and listings."""
        if self.store is None or not insight_ids:
            return []
        return await asyncio.to_thread(self.store.insight_summaries, insight_ids)

    async def on_attempt(self, outcome: CallOutcome, run_id: int | None) -> None:
        """Every model attempt: this process's metrics, its model_calls row,
        model_performance, a bug pattern if it failed, the degradation monitor (on one
        worker thread, not the event loop). The router learns the attempt at once in
        memory; a failure or an alert (which may change the rules or the models to avoid)
        makes it re-read the record. An alert goes to the face on the loop."""
        self.router.observe(outcome)
        event = await asyncio.to_thread(self._after_attempt, outcome, run_id)
        if event is not None:
            if self.on_alert is not None:
                self.on_alert(event)
            else:
                log.warning("%s", event.text)

    def _after_attempt(self, outcome: CallOutcome, run_id: int | None) -> AlertEvent | None:
        from ..improvement.telemetry import observe_attempt

        observe_attempt(outcome)  # the latency histogram of this process (no database)
        if self.store is None:
            return None
        from ..improvement.events import record_call_and_attempt

        record_call_and_attempt(self.store, run_id, outcome)
        event = self._watch(outcome)
        if not outcome.ok or event is not None:
            self.router.refresh()
        return event

    def _watch(self, outcome: CallOutcome) -> AlertEvent | None:
        """The degradation monitor's verdict on this model and task (blocking)."""
        if self.alerts is None or self.store is None:
            return None
        from ..improvement.alerts import handle, signal_names
        from ..improvement.telemetry import set_alert

        try:
            event = self.alerts.observe(
                self.store, self.settings.alerts, outcome.target.model, outcome.task
            )
        except Exception:
            log.exception("could not evaluate alerts for %s", outcome.target.model)
            return None
        if event is not None:
            event = replace(event, alternatives=self._alternatives(outcome))
            for name in signal_names(list(event.signals)):
                set_alert(event.model, event.task, name, event.kind == "raised")
            handle(self.store, self.settings.alerts, event)
        return event

    def _alternatives(self, outcome: CallOutcome) -> int | None:
        """How many other models the router could give this task (for the alert's words)."""
        try:
            targets = self.router.choose(outcome.task).targets
        except Exception:
            log.exception("could not list the alternatives to %s", outcome.target.model)
            return None
        return len({t.model for t in targets} - {outcome.target.model})

    async def on_dropped(self, model: str, task: str, counts: dict[str, int]) -> None:
        """Findings grounding dropped (ungrounded, prompt echo, generic) count against the
        model that gave them; the router re-reads its record."""
        if self.store is None:
            return
        from ..improvement.events import record_dropped

        await asyncio.to_thread(record_dropped, self.store, model, task, counts)
        await asyncio.to_thread(self.router.refresh)

    async def after_run(self, result: RunResult, doc: Document) -> None:
        if result.units_cached:  # this process's cache hits, once per run
            from ..improvement.telemetry import count_cache_hit

            count_cache_hit(result.pipeline, result.units_cached)
        if self.store is not None and result.suppressed:
            from ..rules.metrics import record_suppressed

            try:
                await asyncio.to_thread(record_suppressed, self.store, doc.repository, result)
            except Exception:
                log.exception("could not record the findings rules suppressed")
        if self.store is not None and result.status == RunStatus.FAILED:
            from ..improvement.events import record_runs  # pipeline errors -> bug patterns

            await asyncio.to_thread(record_runs, self.store)
        # A finding that only repeats a template's example ("short title") is no lesson.
        learnable = [f for f in result.findings if not is_placeholder(f.message, f.title)]
        if self.loop is not None and learnable:
            try:
                await asyncio.to_thread(
                    self.loop.record_run, doc, result.run_id, learnable, result.ignored or ()
                )
            except Exception:
                log.exception("could not record insights for run %s", result.run_id)
        if result.pipeline == "refactor" and self.settings.auto_create_pr:
            await self.auto_create_prs(result, doc)

    async def auto_create_prs(self, result: RunResult, doc: Document) -> None:
        """``autoCreatePR``: the user opted in to a PR for every generated improvement."""
        from ..github import PullRequestError
        from .pull_requests import create_pull_request

        for finding in result.findings:
            if not finding.edits:
                continue
            try:
                outcome = await create_pull_request(self, doc, finding)
                result.notices.append(f"Kaizen opened {outcome.url}")
            except PullRequestError as exc:
                result.notices.append(f"Kaizen could not open a pull request: {exc}")

    def context(
        self,
        on_status: Callable[[RunStatus, str | None], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
        *,
        shown: bool | Callable[[], bool] = False,
    ) -> RunContext:
        """``shown``: the editor shows the results, so a finding left alone counts as
        ignored; the CLI's runs never do (nobody could act on them). A callable says at the
        end of the run whether its result will be shown (not when the document changed)."""
        extra: dict[str, Any] = {}
        if on_progress is not None:
            extra["on_progress"] = on_progress
        if on_status is not None:
            extra["on_status"] = on_status
        if on_notice is not None:
            extra["on_notice"] = on_notice
        return RunContext(
            settings=self.settings,
            router=self.router,
            store=self.store,
            learnings=self.learnings,
            static=self.static,
            suppress=self.suppress,
            weigh=self.weigh,
            on_attempt=self.on_attempt,
            after_run=self.after_run,
            shown=shown,
            on_dropped=self.on_dropped,
            rules=self.rules,
            symbols=self.symbols.index if self.symbols is not None else None,
            **extra,
        )

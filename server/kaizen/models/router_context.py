"""The contextual half of ``ModelRouter``: strategy (A/B arm or promoted), the contextual
choice among a layer's candidates, and the outcomes that train it.

Kept apart from router.py so the router's precedence stays readable there: explicit
choice > routing rules > learned (contextual when warm, else per-task statistics) > local.
A running experiment's arm or the promoted strategy supplies the cost weight, the policy
and optionally the rules; an explicit ``routing.costWeight`` setting applies outside
experiments.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .task_context import TaskContext

if TYPE_CHECKING:  # numpy and the featurizer load on the first routed task, not at start-up
    from .contextual_router import ContextualRouter, RoutedTask

log = logging.getLogger(__name__)

DEFAULT_COST_WEIGHT = 0.1


@dataclass(frozen=True)
class StrategyRule:
    """A rule carried by an experiment arm's strategy (duck-types ``heuristics.Rule``)."""

    id: str
    pattern: str
    preferred_model: str | None = None
    preferred_layer: str | None = None

    def matches(self, task: str, path: str) -> bool:
        try:
            return re.search(self.pattern, path or "") is not None or self.pattern == task
        except re.error:
            return False


class ContextualRouting:
    """Mixed into ``ModelRouter``; expects ``settings``, ``policy``, ``sync_state``,
    ``assign_arm``, ``_layer_target`` and ``_prices`` from it."""

    settings: Any
    sync_state: Any  # (contextual, pending decisions) -> None, writes and reads the record
    assign_arm: Any  # (experiment, rng) -> (arm, strategy)
    _contextual: ContextualRouter | None
    _unsaved: list[RoutedTask]
    _unsaved_lock: threading.Lock

    def _init_contextual(self, contextual: ContextualRouter | None, rng: Any) -> None:
        self._contextual = contextual
        self._contextual_rng = rng
        self._unsaved = []
        self._unsaved_lock = threading.Lock()
        self._contextual_lock = threading.Lock()

    @property
    def contextual(self) -> ContextualRouter:
        """The contextual learner, made on first use: numpy and the featurizer take ~0.2 s
        to import, and a language server's ``initialize`` does not need them."""
        if self._contextual is None:
            with self._contextual_lock:
                if self._contextual is None:
                    from .contextual import ContextualConfig
                    from .contextual_router import ContextualRouter

                    config = ContextualConfig(exploration=self.settings.routing.exploration)
                    self._contextual = ContextualRouter(config=config, rng=self._contextual_rng)
        return self._contextual

    # strategy ----------------------------------------------------------------------------

    def strategy(self, snap: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(strategy, experiment assignment or None) for one task."""
        experiment = getattr(snap, "experiment", None)
        if experiment and experiment.get("status") == "running" and self.assign_arm is not None:
            arm, strategy = self.assign_arm(experiment, self.contextual.policy.rng)
            return strategy, {"id": experiment["id"], "arm": arm}
        strategy = dict(getattr(snap, "promoted", None) or {})
        if self.settings.routing.cost_weight is not None:
            strategy["costWeight"] = self.settings.routing.cost_weight
        return strategy, None

    def strategy_rules(self, strategy: dict[str, Any], stored: Sequence[Any]) -> list[Any]:
        if "rules" not in strategy:
            return list(stored)
        return [
            StrategyRule(f"arm:{i}", r["pattern"], r.get("preferredModel"), r.get("preferredLayer"))
            for i, r in enumerate(strategy["rules"])
        ]

    # choosing ----------------------------------------------------------------------------

    def route_context(self, context: TaskContext | None) -> RoutedTask | None:
        if context is None or not self.settings.routing.contextual:
            return None
        try:
            return self.contextual.route(context)
        except Exception:  # featurising must never stop routing
            log.exception("could not featurise the task")
            return None

    def contextual_order(
        self,
        models: Sequence[str],
        routed: RoutedTask | None,
        strategy: dict[str, Any],
        estimates: Sequence[Any],
    ) -> tuple[list[str], str] | None:
        """The contextual policy's order over ``models`` (litellm names), or None (cold,
        disabled, or the strategy asks for the per-task statistics)."""
        if routed is None or strategy.get("policy") == "statistics":
            return None
        priors = {e.model: e.quality for e in estimates}
        costs = {e.model: e.cost_usd for e in estimates}
        weight = float(strategy.get("costWeight", DEFAULT_COST_WEIGHT))
        decision = self.contextual.decide(routed, list(models), costs, weight, priors)
        if decision is None:
            return None
        return decision.order(), decision.reason

    def finish_routing(self, routed: RoutedTask | None, choice: Any, experiment: Any) -> None:
        if routed is None:
            return
        choice.routed = routed
        routed.experiment = experiment
        routed.source = choice.source
        if choice.targets:
            routed.model = choice.targets[0].model
            models = [t.model for t in choice.targets]
            prices = self._prices(choice.targets, models)  # type: ignore[attr-defined]
            from .contextual import normalised_costs

            routed.relative_cost = normalised_costs(models, prices).get(routed.model, 0.0)

    # outcomes ----------------------------------------------------------------------------

    def attempt_done(self, choice: Any, outcome: Any) -> None:
        """One attempt of ``choice``: invalid answers and errors train the policy at once;
        a valid answer waits for its findings' outcomes."""
        routed: RoutedTask | None = getattr(choice, "routed", None)
        if routed is None:
            return
        routed.cost_usd += float(outcome.cost_usd or 0.0)
        if outcome.ok:
            routed.model = outcome.target.model  # findings will name the model that answered
        else:
            self.contextual.observe(routed, outcome.target.model, 0.0)

    def call_done(self, choice: Any) -> None:
        if (routed := getattr(choice, "routed", None)) is not None:
            with self._unsaved_lock:
                self._unsaved.append(routed)

    def feedback(self, run_id: int | None, model: str | None, outcome: str, count: int = 1) -> int:
        """Outcomes known in this process (ignored findings, ungrounded answers) for the
        tasks of ``run_id`` routed to ``model``; returns how many tasks learned from it."""
        from .contextual import reward_of

        reward = reward_of(outcome)
        if run_id is None or reward is None or count <= 0:
            return 0
        tasks = self.contextual.for_run(run_id, model)
        for routed in tasks:
            for _ in range(count):
                self.contextual.observe(routed, routed.model or model or "", reward)
            with self._unsaved_lock:
                if routed not in self._unsaved:
                    self._unsaved.append(routed)
        return len(tasks)

    def sync_contextual(self) -> None:
        """Write decisions and learned sums, read the team's (on a worker thread)."""
        if self.sync_state is None:
            return
        with self._unsaved_lock:
            pending, self._unsaved = self._unsaved, []
        try:
            self.sync_state(self.contextual, pending)
        except Exception:
            with self._unsaved_lock:
                self._unsaved = pending + self._unsaved
            raise

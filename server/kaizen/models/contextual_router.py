"""The contextual policy with its features and its cold start: what ``ModelRouter`` and the
replay benchmark both call, so the benchmark measures the code that routes.

``decide`` returns None while the policy is cold (no basis fitted yet, or fewer than
``min_observations`` contextual outcomes for the candidates): the caller then routes on
today's per-task statistics and layers (``models.policy``). Outcomes observed before the
basis exists are kept with their raw embedding and learned once it is fitted.

Every decision gets an ``id``; the outcome of the task is credited to its features with
``observe`` (in this process) or through the record (``improvement.router_state``).
"""

from __future__ import annotations

import random
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .contextual import ContextDecision, ContextualConfig, ContextualPolicy
from .features import Basis, Embedding, Featurizer, TaskContext, assemble, resolve, structured

RECENT = 512  # decisions kept in memory for credit by run id


@dataclass
class RoutedTask:
    """One routed task: its features and what was decided (JSON-able via ``as_dict``)."""

    id: str
    task: str
    run_id: int | None
    structured: list[float]
    embedding: Embedding | None  # kept only while no basis exists (maybe deferred)
    features: np.ndarray | None  # None while no basis exists
    basis_id: str | None
    decision: ContextDecision | None = None
    model: str | None = None  # the model chosen, then the one that answered
    source: str = ""  # explicit | rule | learned | ... (the router's Choice.source)
    experiment: dict[str, Any] | None = None  # {"id": .., "arm": "a"|"b"} when assigned
    cost_usd: float = 0.0
    relative_cost: float = 0.0
    rewards: list[tuple[str, float]] = field(default_factory=list)  # (model, reward)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "runId": self.run_id,
            "model": self.model,
            "contextual": self.decision is not None,
            "predictions": [p.as_dict() for p in self.decision.predictions]
            if self.decision
            else [],
            "experiment": self.experiment,
        }


class ContextualRouter:
    def __init__(
        self,
        featurizer: Featurizer | None = None,
        config: ContextualConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.featurizer = featurizer or Featurizer()
        self.policy = ContextualPolicy(self.featurizer.dim, config, rng)
        self.early: list[tuple[Embedding, list[float], str, float]] = []
        self.recent: OrderedDict[str, RoutedTask] = OrderedDict()

    @property
    def basis(self) -> Basis | None:
        return self.featurizer.basis

    def adopt_basis(self, basis: Basis) -> None:
        """Use ``basis`` (e.g. the team's, from the record); statistics learned in another
        coordinate system are dropped, early outcomes are learned in the new one."""
        if self.basis is not None and self.basis.id == basis.id:
            return
        self.featurizer.basis = basis
        self.featurizer.pending = []
        self.policy.replace_base({})
        self.policy.delta = {}
        self._learn_early()

    def _learn_early(self) -> None:
        basis = self.basis
        assert basis is not None
        for embedding, parts, model, reward in self.early:
            self.policy.observe(model, assemble(basis.project(resolve(embedding)), parts), reward)
        self.early = []

    def route(self, ctx: TaskContext, embedding: np.ndarray | None = None) -> RoutedTask:
        """Featurise ``ctx`` (collecting its embedding toward the basis while none exists:
        then it is made only when something needs it, ``Featurizer.deferred``)."""
        e: Embedding | None = embedding
        if e is None and self.basis is None:
            e = self.featurizer.deferred(ctx.text)
        if e is None:
            e = self.featurizer.embed(ctx.text)
        parts = structured(ctx)
        if self.basis is None and self.featurizer.observe_embedding(e) is not None:
            self._learn_early()
        basis = self.basis
        x = assemble(basis.project(resolve(e)), parts) if basis is not None else None
        routed = RoutedTask(
            id=uuid.uuid4().hex,
            task=ctx.task,
            run_id=ctx.run_id,
            structured=parts,
            embedding=e if basis is None else None,
            features=x,
            basis_id=basis.id if basis is not None else None,
        )
        self.recent[routed.id] = routed
        while len(self.recent) > RECENT:
            self.recent.popitem(last=False)
        return routed

    def decide(
        self,
        routed: RoutedTask,
        candidates: Sequence[str],
        costs: Mapping[str, float],
        cost_weight: float,
        priors: Mapping[str, float],
        *,
        sample: bool = True,
    ) -> ContextDecision | None:
        """The contextual choice for ``routed``, or None while cold (fall back)."""
        if routed.features is None or not candidates or not self.policy.ready(candidates):
            return None
        decision = self.policy.decide(
            candidates, routed.features, costs, cost_weight, priors, sample=sample
        )
        routed.decision = decision
        return decision

    def observe(self, routed: RoutedTask, model: str, reward: float) -> None:
        """Learn ``reward`` for ``model`` on ``routed``'s features."""
        routed.rewards.append((model, reward))
        if routed.features is not None and (
            self.basis is not None and routed.basis_id == self.basis.id
        ):
            self.policy.observe(model, routed.features, reward)
        elif routed.embedding is not None:
            if self.basis is not None:  # the basis was fitted after this task was routed
                x = assemble(self.basis.project(resolve(routed.embedding)), routed.structured)
                self.policy.observe(model, x, reward)
            else:
                self.early.append((routed.embedding, routed.structured, model, reward))

    def for_run(self, run_id: int, model: str | None = None) -> list[RoutedTask]:
        """The recent tasks of ``run_id`` (those routed to ``model``, when given)."""
        return [
            t
            for t in self.recent.values()
            if t.run_id == run_id and (model is None or t.model == model)
        ]

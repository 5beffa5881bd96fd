"""The contextual router makes a task's embedding when something needs it (while no basis
exists, with the offline hashing embedder) and learns, fits and decides exactly as when
every embedding was made at routing time."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from kaizen.core.embed import HashingEmbedder
from kaizen.models.contextual import ContextualConfig
from kaizen.models.contextual_router import ContextualRouter
from kaizen.models.features import Deferred, Featurizer, TaskContext
from tests.test_router_contextual import QUALITY, A, B, task_text


class AtOnce:
    """The hashing embedder behind another class: the featurizer embeds at routing time."""

    def __init__(self, inner: HashingEmbedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed(texts)


def trace(deferred: bool, seed: int = 3) -> tuple[list[object], ContextualRouter]:
    """Route 150 tasks (the basis is fitted after 40), with outcomes learned before and
    after the basis, early outcomes replayed, and decisions taken: everything observable."""
    embedder = HashingEmbedder(256)
    featurizer = Featurizer(embedder if deferred else AtOnce(embedder), basis_size=40, rank=8)  # type: ignore[arg-type]
    router = ContextualRouter(featurizer, ContextualConfig(), random.Random(seed))
    rng = random.Random(seed)
    out: list[object] = []
    held = []
    for i in range(150):
        region, text = task_text(rng)
        routed = router.route(
            TaskContext(("issue_detector", "fix_generator")[i % 2], text, "python")
        )
        if deferred and i < 39:
            assert isinstance(routed.embedding, Deferred)  # nothing was embedded yet
        decision = router.decide(routed, [A, B], {A: 1.0, B: 2.0}, 0.1, {A: 0.5, B: 0.6})
        model = decision.model if decision else rng.choice((A, B))
        reward = float(rng.random() < QUALITY[(region, model)])
        if i % 3 == 0:
            held.append((routed, model, reward))  # learned later: maybe after the basis
        else:
            router.observe(routed, model, reward)
        if i % 25 == 24:
            for args in held:
                router.observe(*args)
            held = []
        features = None if routed.features is None else routed.features.tolist()
        out.append((routed.basis_id is not None, features, decision and decision.order()))
    return out, router


def test_deferred_embeddings_route_and_learn_as_made_at_once() -> None:
    lazy, lazy_router = trace(deferred=True)
    eager, eager_router = trace(deferred=False)
    assert lazy == eager
    b1, b2 = lazy_router.basis, eager_router.basis
    assert b1 is not None and b2 is not None
    assert np.array_equal(b1.mean, b2.mean) and np.array_equal(b1.components, b2.components)
    assert b1.scale == b2.scale and b1.embedder == b2.embedder
    for model in (A, B):
        s1, s2 = lazy_router.policy.stats(model), eager_router.policy.stats(model)
        assert np.array_equal(s1.precision, s2.precision) and s1.n == s2.n
        assert np.array_equal(s1.moment, s2.moment) and s1.sum_r2 == s2.sum_r2
    assert sum(d[2] is not None for d in lazy) > 50  # warm: contextual decisions were taken


def test_a_provider_embedder_is_asked_at_routing_time() -> None:
    featurizer = Featurizer(AtOnce(HashingEmbedder(64)), basis_size=5, rank=2)  # type: ignore[arg-type]
    router = ContextualRouter(featurizer)
    routed = router.route(TaskContext("issue_detector", "select * from t", "sql"))
    assert isinstance(routed.embedding, np.ndarray)

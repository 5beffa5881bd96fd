"""The contextual router's record: its basis, its sufficient statistics, its decisions.

Sharing one database across a team: the statistics of a model are sums (``ArmStats``), and
every writer *adds* what it learned since its last write inside a write transaction that
holds the ``kaizen:router_state`` lock (BEGIN IMMEDIATE on SQLite, an advisory lock on
PostgreSQL). So concurrent updates add up exactly, none is lost, none counted twice; each
process then reloads the sums (``sync``). The basis is first-writer-wins: a process that
fitted its own basis while another wrote one first adopts the stored one.

Decisions are stored with their features so that an outcome that arrives later (a finding
accepted in the editor, maybe by another process or the CLI) is learned in the context the
task was routed in (``credit_finding``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from ..memory.db import write_lock
from ..memory.schema import FindingRow, RouterBasis, RouterDecision, RouterState, utcnow
from ..models.contextual import ArmStats, reward_of
from ..models.contextual_router import ContextualRouter, RoutedTask
from ..models.features import Basis

log = logging.getLogger(__name__)

LOCK = "kaizen:router_state"
KEEP_DECISIONS_DAYS = 90


def _f64(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def _from(b: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(b, dtype="<f8").reshape(shape).copy()


# basis ----------------------------------------------------------------------------------


def _basis(row: RouterBasis) -> Basis:
    return Basis(
        mean=_from(row.mean, (row.embed_dim,)),
        components=_from(row.components, (row.rank, row.embed_dim)),
        scale=row.scale,
        embedder=row.embedder,
        id=row.id,
    )


def load_basis(store: Any, embedder: str) -> Basis | None:
    with store.session() as s:
        row = s.scalars(select(RouterBasis).where(RouterBasis.embedder == embedder)).first()
        return _basis(row) if row else None


def save_basis(store: Any, basis: Basis) -> Basis:
    """Store ``basis`` unless one exists for its embedder; returns the stored one."""
    with store.sessions.begin() as s:
        write_lock(s, LOCK)
        row = s.scalars(select(RouterBasis).where(RouterBasis.embedder == basis.embedder)).first()
        if row is not None:
            return _basis(row)
        s.add(
            RouterBasis(
                id=basis.id,
                embedder=basis.embedder,
                rank=basis.rank,
                embed_dim=int(basis.mean.shape[0]),
                scale=basis.scale,
                mean=_f64(basis.mean),
                components=_f64(basis.components),
            )
        )
        return basis


# statistics -----------------------------------------------------------------------------


def add_stats(store: Any, basis_id: str, deltas: Mapping[str, ArmStats]) -> None:
    """Add ``deltas`` to the stored sums (one transaction, under the lock)."""
    if not deltas:
        return
    with store.sessions.begin() as s:
        write_lock(s, LOCK)
        for model, d in deltas.items():
            row = s.scalars(
                select(RouterState).where(
                    RouterState.basis_id == basis_id, RouterState.model == model
                )
            ).first()
            if row is None:
                s.add(
                    RouterState(
                        basis_id=basis_id,
                        model=model,
                        dim=d.dim,
                        n=d.n,
                        sum_r=d.sum_r,
                        sum_r2=d.sum_r2,
                        precision=_f64(d.precision),
                        moment=_f64(d.moment),
                        writes=1,
                    )
                )
                continue
            if row.dim != d.dim:
                log.warning("router_state %s/%s: dim %s, not %s", basis_id, model, row.dim, d.dim)
                continue
            total = _stats(row).merged(d)
            row.n, row.sum_r, row.sum_r2 = total.n, total.sum_r, total.sum_r2
            row.precision, row.moment = _f64(total.precision), _f64(total.moment)
            row.writes = (row.writes or 0) + 1
            row.updated_at = utcnow()


def _stats(row: RouterState) -> ArmStats:
    return ArmStats(
        _from(row.precision, (row.dim, row.dim)),
        _from(row.moment, (row.dim,)),
        row.n or 0.0,
        row.sum_r or 0.0,
        row.sum_r2 or 0.0,
    )


def load_stats(store: Any, basis_id: str) -> dict[str, ArmStats]:
    with store.session() as s:
        rows = s.scalars(select(RouterState).where(RouterState.basis_id == basis_id))
        return {row.model: _stats(row) for row in rows}


# decisions ------------------------------------------------------------------------------


def save_decisions(store: Any, tasks: Iterable[RoutedTask]) -> None:
    """Insert or update the rows of ``tasks`` (their cost and in-process rewards)."""
    tasks = list(tasks)
    if not tasks:
        return
    with store.sessions.begin() as s:
        for t in tasks:
            row = s.get(RouterDecision, t.id)
            if row is None:
                row = RouterDecision(id=t.id, created_at=utcnow())
                s.add(row)
            row.run_id, row.task, row.model = t.run_id, t.task, t.model
            row.source = t.source
            row.basis_id = t.basis_id
            row.features = (
                np.asarray(t.features, dtype="<f4").tobytes() if t.features is not None else None
            )
            if t.experiment:
                row.experiment_id, row.arm = t.experiment["id"], t.experiment["arm"]
            row.cost_usd, row.relative_cost = t.cost_usd, t.relative_cost
            row.outcomes = len(t.rewards)
            row.reward_sum = sum(r for _, r in t.rewards)
            row.updated_at = utcnow()


def credit(store: Any, decision_id: str, model: str, reward: float) -> bool:
    """Learn ``reward`` for ``model`` in decision ``decision_id``'s context (and count it
    for its experiment arm). False when the decision is unknown or has no features."""
    with store.sessions.begin() as s:
        row = s.get(RouterDecision, decision_id)
        if row is None:
            return False
        row.outcomes = (row.outcomes or 0) + 1
        row.reward_sum = (row.reward_sum or 0.0) + reward
        row.updated_at = utcnow()
        features, basis_id = row.features, row.basis_id
    if features is None or basis_id is None:
        return True
    x = np.frombuffer(features, dtype="<f4").astype(np.float64)
    stats = ArmStats.empty(len(x))
    stats.add(x, reward)
    add_stats(store, basis_id, {model: stats})
    return True


def credit_finding(store: Any, finding: Any, outcome: str) -> bool:
    """An accepted / fixed-by-hand (1) or dismissed / ignored (0) finding: credited to the
    latest decision of the run that reported it, for the model that found it."""
    reward = reward_of(outcome)
    if reward is None or not getattr(finding, "model", None) or not finding.fingerprint:
        return False
    with store.session() as s:
        run_id = s.scalars(
            select(FindingRow.run_id)
            .where(FindingRow.fingerprint == finding.fingerprint, FindingRow.model == finding.model)
            .order_by(FindingRow.updated_at.desc())
        ).first()
        if run_id is None:
            return False
        decision = s.scalars(
            select(RouterDecision.id)
            .where(RouterDecision.run_id == run_id, RouterDecision.model == finding.model)
            .order_by(RouterDecision.created_at.desc())
        ).first()
    return decision is not None and credit(store, decision, finding.model, reward)


def prune(store: Any, days: int = KEEP_DECISIONS_DAYS) -> int:
    """Forget decisions older than ``days`` (their outcomes are in the sums already)."""
    with store.sessions.begin() as s:
        cutoff = utcnow() - timedelta(days=days)
        result = s.execute(delete(RouterDecision).where(RouterDecision.created_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


# the whole exchange ---------------------------------------------------------------------


def sync(store: Any, router: ContextualRouter, decisions: Iterable[RoutedTask] = ()) -> None:
    """Write what ``router`` learned and decided since the last sync, then read the team's
    state back: basis (adopt the stored one, or store ours), sums, decisions."""
    name = router.featurizer.embedder.name
    if router.basis is None:
        stored = load_basis(store, name)
        if stored is not None:
            router.adopt_basis(stored)
    elif (stored := save_basis(store, router.basis)).id != router.basis.id:
        router.adopt_basis(stored)  # another process was first: ours is dropped
    save_decisions(store, decisions)
    basis = router.basis
    if basis is None:
        return
    delta = router.policy.take_delta()
    try:
        add_stats(store, basis.id, delta)
    except Exception:
        router.policy.restore(delta)
        raise
    router.policy.replace_base(load_stats(store, basis.id))

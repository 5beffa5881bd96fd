"""``model_performance``: per model and task type, the sums the router learns from.

A row holds sums (calls, validated answers, accepted / dismissed findings, invalid answers,
errors, latency, cost), so every update is an increment in SQL and averages are computed on
read. The policy (``models.policy``) turns rows into estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from ..memory.schema import ModelPerformance, utcnow
from ..memory.sql import upsert_increment
from ..models.policy import Stats

ACCEPTED = {"accepted", "fixed_by_hand", "fixed"}
REJECTED = {"rejected", "dismissed"}


@dataclass(frozen=True)
class Sample:
    """One observation of a model on a task type; every field is an increment."""

    calls: int = 0
    successes: float = 0.0
    accepted: int = 0
    rejected: int = 0
    invalid: int = 0
    errors: int = 0
    unreached: int = 0  # of errors: the request never got to the model
    dropped: int = 0  # findings grounding dropped
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    completion_tokens: int = 0

    @classmethod
    def from_outcome(cls, outcome: Any) -> Sample:
        """A gateway ``CallOutcome``: ok counts a success; invalid and error count failures."""
        return cls(
            calls=1,
            successes=1.0 if outcome.status == "ok" else 0.0,
            invalid=int(outcome.status == "invalid"),
            errors=int(outcome.status == "error"),
            unreached=int(outcome.status == "error" and not getattr(outcome, "reached", True)),
            latency_ms=float(outcome.latency_ms or 0.0),
            cost_usd=float(outcome.cost_usd or 0.0),
            completion_tokens=int(outcome.completion_tokens or 0),
        )


def add_sample(
    store: Any, model: str, task_type: str, sample: Sample, session: Any = None
) -> None:
    """Add ``sample`` to the row of (model, task type): in its own write transaction, or in
    ``session``'s (one transaction with the call it came from)."""
    if session is None:
        with store.sessions.begin() as s:
            add_sample(store, model, task_type, sample, s)
        return
    upsert_increment(
        session,
        ModelPerformance.__table__,
        {"model": model, "task_type": task_type},
        {
            "calls": sample.calls,
            "successes": sample.successes,
            "accepted": sample.accepted,
            "rejected": sample.rejected,
            "invalid": sample.invalid,
            "errors": sample.errors,
            "unreached": sample.unreached,
            "dropped": sample.dropped,
            "total_latency_ms": sample.latency_ms,
            "total_cost_usd": sample.cost_usd,
            "total_completion_tokens": sample.completion_tokens,
        },
        {"updated_at": utcnow()},
    )


def record_outcome(store: Any, outcome: Any, session: Any = None) -> None:
    """One model attempt (a gateway ``CallOutcome``); ``session``: see ``add_sample``."""
    add_sample(store, outcome.target.model, outcome.task, Sample.from_outcome(outcome), session)


def record_feedback(store: Any, model: str, task_type: str, outcome: str) -> bool:
    """An accepted / fixed-by-hand or dismissed finding; False for other outcomes."""
    if outcome in ACCEPTED:
        add_sample(store, model, task_type, Sample(accepted=1))
    elif outcome in REJECTED:
        add_sample(store, model, task_type, Sample(rejected=1))
    else:
        return False
    return True


def load_stats(store: Any) -> dict[str, dict[str, Stats]]:
    """``{task_type: {model: Stats}}`` for the whole table (it is small: models x tasks)."""
    out: dict[str, dict[str, Stats]] = {}
    with store.session() as s:
        for row in s.scalars(select(ModelPerformance)):
            out.setdefault(row.task_type, {})[row.model] = to_stats(row)
    return out


def task_stats(store: Any, task_type: str) -> dict[str, Stats]:
    with store.session() as s:
        query = select(ModelPerformance).where(ModelPerformance.task_type == task_type)
        return {row.model: to_stats(row) for row in s.scalars(query)}


def to_stats(row: ModelPerformance) -> Stats:
    return Stats(
        model=row.model,
        calls=row.calls or 0,
        successes=row.successes or 0.0,
        accepted=row.accepted or 0,
        rejected=row.rejected or 0,
        dropped=row.dropped or 0,
        total_latency_ms=row.total_latency_ms or 0.0,
        total_cost_usd=row.total_cost_usd or 0.0,
        total_completion_tokens=row.total_completion_tokens or 0.0,
    )


def rows(store: Any, task_type: str | None = None) -> list[dict[str, Any]]:
    """Raw rows as JSON, including the invalid / error split."""
    with store.session() as s:
        query = select(ModelPerformance).order_by(
            ModelPerformance.task_type, ModelPerformance.model
        )
        if task_type:
            query = query.where(ModelPerformance.task_type == task_type)
        return [
            {
                "model": r.model,
                "taskType": r.task_type,
                "calls": r.calls or 0,
                "successes": r.successes or 0.0,
                "accepted": r.accepted or 0,
                "rejected": r.rejected or 0,
                "invalid": r.invalid or 0,
                "errors": r.errors or 0,
                "unreached": r.unreached or 0,
                "dropped": r.dropped or 0,
                # of the calls that reached the model (an unreachable endpoint is not a
                # model that answers badly)
                "successRate": reached_rate(r.successes or 0.0, r.calls or 0, r.unreached or 0),
                "avgLatencyMs": round((r.total_latency_ms or 0.0) / r.calls, 1) if r.calls else 0.0,
                "avgCostUsd": (r.total_cost_usd or 0.0) / r.calls if r.calls else 0.0,
                "updatedAt": r.updated_at.isoformat() if r.updated_at else None,
            }
            for r in s.scalars(query)
        ]


def reached_rate(successes: float, calls: int, unreached: int) -> float:
    """Valid answers per call that reached the model (0 when none did)."""
    reached = calls - unreached
    return round(successes / reached, 4) if reached > 0 else 0.0


def reset(store: Any, model: str, task_type: str | None = None) -> int:
    """Forget a model's record (all task types, or one): it will be measured afresh."""
    with store.sessions.begin() as s:
        query = delete(ModelPerformance).where(ModelPerformance.model == model)
        if task_type:
            query = query.where(ModelPerformance.task_type == task_type)
        return int(s.execute(query).rowcount or 0)

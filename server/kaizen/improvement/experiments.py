"""A/B experiments of routing strategies: two arms, live tasks assigned at random, quality
and cost per arm, a sequential test that stops once one arm is better (or at a cap), and
promotion of the winner to the team's routing strategy.

A strategy is a JSON object, every key optional:
``{"name": "cheap", "costWeight": 0.3, "policy": "contextual" | "statistics",
"rules": [{"pattern": "^tests/", "preferredLayer": "fast"}]}`` -- rules, when given,
replace the stored routing rules for the tasks of that arm.

Each routed task of a running experiment is a ``router_decisions`` row with its arm, its
cost (USD and relative to the dearest candidate) and its rewards (1 accepted / fixed by
hand, 0 dismissed / ignored / invalid / ungrounded / error). A task's utility is
``mean reward - cost_weight x relative cost`` with the experiment's ``cost_weight``.

The test is a mixture sequential probability ratio test (mSPRT; Johari, Pekelis & Walsh,
"Always valid inference", 2017) on the difference of mean utility, normal mixture
N(0, tau^2) over the effect, variance plugged in from the data: it may be checked after
every task and still keeps its false-positive rate at ``alpha`` (checking a fixed-sample
test that often would not). It stops for arm A or B once the likelihood ratio reaches
1/alpha, with at least ``MIN_PER_ARM`` resolved tasks per arm, and stops without a
winner at ``max_tasks`` resolved tasks.

Every function returns JSON-able dicts; the CLI / LSP / MCP / HTTP faces wrap them.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from sqlalchemy import func, select, text

from ..memory.db import write_lock
from ..memory.schema import RouterDecision, RoutingExperiment, utcnow
from . import router_state

MIN_PER_ARM = 20
TAU = 0.1  # the mixture's scale: effects of ~0.1 utility are the ones worth detecting
PROMOTED_KEY = "routing.strategy"
POLICIES = ("contextual", "statistics")
LOCK = "kaizen:routing_experiment"


def normalise_strategy(strategy: Any, fallback_name: str) -> dict[str, Any]:
    """A validated strategy dict (a bare number means a cost weight)."""
    if isinstance(strategy, (int, float)) and not isinstance(strategy, bool):
        strategy = {"costWeight": float(strategy)}
    if isinstance(strategy, str):
        strategy = (
            json.loads(strategy)
            if strategy.strip().startswith("{")
            else {"costWeight": float(strategy)}
        )
    if not isinstance(strategy, dict):
        raise ValueError(f"a strategy is an object or a cost weight, not {strategy!r}")
    out: dict[str, Any] = {"name": str(strategy.get("name") or fallback_name)}
    if (w := strategy.get("costWeight", strategy.get("cost_weight"))) is not None:
        if float(w) < 0:
            raise ValueError("costWeight must be >= 0")
        out["costWeight"] = float(w)
    if (policy := strategy.get("policy")) is not None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}")
        out["policy"] = policy
    if (rules := strategy.get("rules")) is not None:
        if not isinstance(rules, list) or not all(
            isinstance(r, dict) and r.get("pattern") for r in rules
        ):
            raise ValueError("rules: a list of {pattern, preferredModel | preferredLayer}")
        out["rules"] = [
            {
                "pattern": str(r["pattern"]),
                "preferredModel": r.get("preferredModel"),
                "preferredLayer": r.get("preferredLayer"),
            }
            for r in rules
        ]
    return out


def _as_dict(e: RoutingExperiment) -> dict[str, Any]:
    return {
        "id": e.id,
        "status": e.status,
        "a": e.arm_a,
        "b": e.arm_b,
        "costWeight": e.cost_weight,
        "alpha": e.alpha,
        "maxTasks": e.max_tasks,
        "winner": e.winner,
        "reason": e.reason,
        "promoted": e.promoted,
        "startedAt": e.started_at.isoformat() if e.started_at else None,
        "stoppedAt": e.stopped_at.isoformat() if e.stopped_at else None,
    }


def start_experiment(
    store: Any,
    a: Any,
    b: Any,
    *,
    cost_weight: float = 0.1,
    alpha: float = 0.05,
    max_tasks: int = 2000,
) -> dict[str, Any]:
    """Start an experiment of strategy ``a`` against ``b`` (dicts, JSON or cost weights).

    ``cost_weight`` prices cost in the utility the arms are compared on; ``alpha`` is the
    test's false-positive rate; ``max_tasks`` the cap on resolved tasks. Raises
    ValueError when one is already running (stop it first)."""
    arm_a, arm_b = normalise_strategy(a, "A"), normalise_strategy(b, "B")
    if not 0 < alpha < 1 or max_tasks < 2 * MIN_PER_ARM:
        raise ValueError(f"alpha in (0, 1) and max_tasks >= {2 * MIN_PER_ARM}")
    with store.sessions.begin() as s:
        write_lock(s, LOCK)
        running = s.scalars(
            select(RoutingExperiment).where(RoutingExperiment.status == "running")
        ).first()
        if running is not None:
            raise ValueError(f"experiment #{running.id} is running: stop it first")
        e = RoutingExperiment(
            arm_a=arm_a, arm_b=arm_b, cost_weight=cost_weight, alpha=alpha, max_tasks=max_tasks
        )
        s.add(e)
        s.flush()
        return _as_dict(e)


def running_experiment(store: Any) -> dict[str, Any] | None:
    """The running experiment (what the router assigns tasks to), or None."""
    with store.session() as s:
        e = s.scalars(
            select(RoutingExperiment).where(RoutingExperiment.status == "running")
        ).first()
        return _as_dict(e) if e else None


def assign(experiment: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A fair coin: ("a" | "b", that arm's strategy). The router records the arm on the
    task's decision row, so assignment is recorded per task."""
    arm = "a" if rng.random() < 0.5 else "b"
    return arm, experiment[arm]


def record_outcome(store: Any, decision_id: str, model: str, outcome: str | float) -> bool:
    """An outcome of a routed task (an outcome name or a reward in [0, 1]): counted for its
    arm and learned by the contextual policy. False when the task is unknown."""
    reward = outcome if isinstance(outcome, (int, float)) else router_state.reward_of(outcome)
    if reward is None:
        return False
    return router_state.credit(store, decision_id, model, float(reward))


def _arms(store: Any, e: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with store.session() as s:
        for arm in ("a", "b"):
            base = select(RouterDecision).where(
                RouterDecision.experiment_id == e["id"], RouterDecision.arm == arm
            )
            tasks = s.scalar(select(func.count()).select_from(base.subquery())) or 0
            cost = s.scalar(
                select(func.coalesce(func.sum(RouterDecision.cost_usd), 0.0)).where(
                    RouterDecision.experiment_id == e["id"], RouterDecision.arm == arm
                )
            )
            resolved = s.execute(
                select(
                    RouterDecision.reward_sum, RouterDecision.outcomes, RouterDecision.relative_cost
                ).where(
                    RouterDecision.experiment_id == e["id"],
                    RouterDecision.arm == arm,
                    RouterDecision.outcomes > 0,
                )
            ).all()
            rewards = [r.reward_sum / r.outcomes for r in resolved]
            weight = e["costWeight"]
            utility = [q - weight * r.relative_cost for q, r in zip(rewards, resolved, strict=True)]
            out[arm] = {
                "strategy": e[arm],
                "tasks": int(tasks),
                "resolved": len(resolved),
                "quality": _mean(rewards),
                "costUsd": float(cost or 0.0),
                "costPerTaskUsd": float(cost or 0.0) / tasks if tasks else None,
                "relativeCost": _mean([r.relative_cost for r in resolved]),
                "utility": _mean(utility),
                "_utility": utility,
            }
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def msprt(a: list[float], b: list[float], tau: float = TAU) -> dict[str, float]:
    """The mixture likelihood ratio for mean(a) != mean(b) and its always-valid p-value."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return {"difference": 0.0, "likelihoodRatio": 1.0, "pValue": 1.0}
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((x - ma) ** 2 for x in a) / (na - 1)
    vb = sum((x - mb) ** 2 for x in b) / (nb - 1)
    v = max(va / na + vb / nb, 1e-9)
    diff = ma - mb
    t2 = tau * tau
    log_lr = 0.5 * math.log(v / (v + t2)) + t2 * diff * diff / (2 * v * (v + t2))
    lr = math.exp(min(log_lr, 700.0))
    return {"difference": diff, "likelihoodRatio": lr, "pValue": min(1.0, 1.0 / lr)}


def decide(e: dict[str, Any], arms: dict[str, dict[str, Any]]) -> tuple[str | None, str] | None:
    """(winner or None, why) once the experiment should stop, else None."""
    ua, ub = arms["a"]["_utility"], arms["b"]["_utility"]
    test = msprt(ua, ub)
    if min(len(ua), len(ub)) >= MIN_PER_ARM and test["likelihoodRatio"] >= 1 / e["alpha"]:
        winner = "a" if test["difference"] > 0 else "b"
        return winner, (
            f"arm {winner.upper()} has the higher utility by {abs(test['difference']):.3f} "
            f"(mSPRT p <= {test['pValue']:.4f}, alpha {e['alpha']})"
        )
    if len(ua) + len(ub) >= e["maxTasks"]:
        return None, f"no difference found within {e['maxTasks']} resolved tasks"
    return None


def experiment_status(store: Any) -> dict[str, Any]:
    """The running experiment, else the latest one: arms (tasks, resolved, quality, cost,
    utility), the test, and whether it stopped. Stops it when the rule fires (that is
    recorded; promotion stays an explicit ``stop_experiment(promote=True)``)."""
    with store.session() as s:
        e = s.scalars(select(RoutingExperiment).order_by(RoutingExperiment.id.desc())).first()
        if e is None:
            return {"experiment": None}
        current = _as_dict(e)
    arms = _arms(store, current)
    test = msprt(arms["a"]["_utility"], arms["b"]["_utility"])
    if current["status"] == "running" and (verdict := decide(current, arms)) is not None:
        winner, reason = verdict
        current = _stop(store, current["id"], winner, reason)
    for arm in arms.values():
        del arm["_utility"]
    return {"experiment": current, "arms": arms, "test": test}


def _stop(store: Any, experiment_id: int, winner: str | None, reason: str) -> dict[str, Any]:
    with store.sessions.begin() as s:
        write_lock(s, LOCK)
        e = s.get(RoutingExperiment, experiment_id)
        assert e is not None
        if e.status == "running":
            e.status, e.winner, e.reason, e.stopped_at = "stopped", winner, reason, utcnow()
        return _as_dict(e)


def stop_experiment(store: Any, promote: bool) -> dict[str, Any]:
    """Stop the running experiment (or take the latest stopped one); with ``promote``, make
    its winner the team's routing strategy. Promotion needs a winner by the test."""
    status = experiment_status(store)  # may stop it with a winner first
    current = status.get("experiment")
    if current is None:
        return {"stopped": None, "promoted": None, "reason": "no experiment"}
    if current["status"] == "running":
        current = _stop(store, current["id"], None, "stopped by the user")
    promoted = None
    if promote:
        if current["winner"] is None:
            return {"stopped": current, "promoted": None, "reason": "no winner to promote"}
        promoted = current[current["winner"]]
        _set_promoted(store, current["id"], promoted)
        current["promoted"] = True
    return {"stopped": current, "promoted": promoted, "reason": current["reason"]}


def _set_promoted(store: Any, experiment_id: int, strategy: dict[str, Any]) -> None:
    with store.sessions.begin() as s:
        write_lock(s, LOCK)
        s.execute(text("DELETE FROM meta WHERE key = :k"), {"k": PROMOTED_KEY})
        s.execute(
            text("INSERT INTO meta (key, value) VALUES (:k, :v)"),
            {"k": PROMOTED_KEY, "v": json.dumps(strategy)},
        )
        e = s.get(RoutingExperiment, experiment_id)
        if e is not None:
            e.promoted = True


def promoted_strategy(store: Any) -> dict[str, Any] | None:
    """The strategy last promoted for this database, or None."""
    with store.session() as s:
        row = s.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": PROMOTED_KEY}).first()
    return json.loads(row[0]) if row else None

"""Routing heuristics (``routing_rules``): "tasks or files matching this go to that model".

A rule's ``pattern`` is a Python regular expression searched in the task name
(``issue_detector``, ``fix_generator``, ...) and in the file's path relative to the project;
either match selects the rule. Active rules are tried by priority (highest first, then
oldest); the first match wins over the learned policy, and only the user's explicit model
choice wins over a rule.

Learned rules: when a model keeps failing a task type (at least ``LEARN_MIN_CALLS`` calls,
success rate at most ``LEARN_MAX_SUCCESS``) while another model succeeds at it, Kaizen
records an *inactive* rule preferring the model that works, with the evidence in its
metadata (``source: "learned"``). It is inactive because the learned policy already stops
choosing the failing model; the rule is there to explain what happened and to let a user pin
the choice (activate it with ``kaizen.updateRoutingHeuristic``) so it survives exploration
and new models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from ..memory.db import write_lock
from ..memory.schema import RoutingRule, utcnow
from ..models.policy import LAYERS, Stats

LEARN_MIN_CALLS = 5
LEARN_MAX_SUCCESS = 0.2
LEARN_MIN_WINNER_CALLS = 3
LEARN_MIN_WINNER_SUCCESS = 0.8


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    """An active rule as the router uses it (compiled once per refresh)."""

    id: int
    pattern: str
    regex: re.Pattern[str]
    preferred_layer: str | None
    preferred_model: str | None
    priority: int

    def matches(self, task: str, path: str) -> bool:
        return bool(self.regex.search(task) or (path and self.regex.search(path)))


def as_json(row: RoutingRule) -> dict[str, Any]:
    return {
        "id": row.id,
        "pattern": row.pattern,
        "preferredLayer": row.preferred_layer,
        "preferredModel": row.preferred_model,
        "priority": row.priority,
        "active": bool(row.active),
        "metadata": row.meta or {},
        "createdAt": row.created_at.isoformat() if row.created_at else None,
    }


def list_rules(store: Any, include_inactive: bool = True) -> list[dict[str, Any]]:
    with store.session() as s:
        query = select(RoutingRule).order_by(RoutingRule.priority.desc(), RoutingRule.id)
        if not include_inactive:
            query = query.where(RoutingRule.active.is_(True))
        return [as_json(row) for row in s.scalars(query)]


def active_rules(store: Any) -> list[Rule]:
    """Active rules in the order they are tried; rules with a bad regex are skipped."""
    out = []
    for row in list_rules(store, include_inactive=False):
        try:
            regex = re.compile(row["pattern"])
        except re.error:
            continue
        out.append(
            Rule(
                row["id"],
                row["pattern"],
                regex,
                row["preferredLayer"],
                row["preferredModel"],
                row["priority"],
            )
        )
    return out


def check(pattern: str | None, layer: str | None, model: str | None) -> None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RuleError(
                f"pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from None
    if layer is not None and layer not in LAYERS:
        raise RuleError(f"preferredLayer must be one of {', '.join(LAYERS)}, not {layer!r}")
    if model is not None and not model.strip():
        raise RuleError("preferredModel is empty")


def upsert_rule(
    store: Any,
    *,
    rule_id: int | None = None,
    pattern: str | None = None,
    preferred_layer: str | None = None,
    preferred_model: str | None = None,
    priority: int | None = None,
    active: bool | None = None,
    metadata: dict[str, Any] | None = None,
    clear: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Create a rule (no ``rule_id``) or change the given fields of one. ``clear`` names
    fields to reset to null (``preferredLayer`` / ``preferredModel``)."""
    check(pattern, preferred_layer, preferred_model)
    with store.sessions.begin() as s:
        if rule_id is None:
            if not pattern:
                raise RuleError("a new rule needs a pattern")
            if not (preferred_layer or preferred_model):
                raise RuleError("a rule needs a preferredModel or a preferredLayer")
            row = RoutingRule(
                pattern=pattern,
                preferred_layer=preferred_layer,
                preferred_model=preferred_model,
                priority=priority or 0,
                active=True if active is None else active,
                meta={"source": "user", **(metadata or {})},
            )
            s.add(row)
            s.flush()
            return as_json(row)
        row = s.get(RoutingRule, rule_id)
        if row is None:
            raise RuleError(f"no routing rule with id {rule_id}")
        if pattern is not None:
            row.pattern = pattern
        if preferred_layer is not None:
            row.preferred_layer = preferred_layer
        if preferred_model is not None:
            row.preferred_model = preferred_model
        if "preferredLayer" in clear:
            row.preferred_layer = None
        if "preferredModel" in clear:
            row.preferred_model = None
        if not (row.preferred_layer or row.preferred_model):
            raise RuleError("a rule needs a preferredModel or a preferredLayer")
        if priority is not None:
            row.priority = priority
        if active is not None:
            row.active = active
        if metadata is not None:
            row.meta = {**(row.meta or {}), **metadata}
        s.flush()
        return as_json(row)


def delete_rule(store: Any, rule_id: int) -> bool:
    with store.sessions.begin() as s:
        return bool(s.execute(delete(RoutingRule).where(RoutingRule.id == rule_id)).rowcount)


def learn(store: Any, task_type: str, rows: dict[str, Stats]) -> dict[str, Any] | None:
    """Record (or refresh) an inactive rule when a model keeps failing ``task_type`` and
    another succeeds at it; returns the rule, or None when the record shows no such case."""
    failing = [
        r
        for r in rows.values()
        if r.calls >= LEARN_MIN_CALLS and r.success_rate <= LEARN_MAX_SUCCESS
    ]
    working = [
        r
        for r in rows.values()
        if r.calls >= LEARN_MIN_WINNER_CALLS and r.success_rate >= LEARN_MIN_WINNER_SUCCESS
    ]
    if not failing or not working:
        return None
    winner = max(working, key=lambda r: (r.success_rate, r.calls))
    loser = min(failing, key=lambda r: (r.success_rate, -r.calls))
    pattern = f"^{re.escape(task_type)}$"
    why = (
        f"{loser.model} failed {loser.calls - int(loser.successes)} of {loser.calls} "
        f"{task_type} calls; {winner.model} succeeded in {int(winner.successes)} of "
        f"{winner.calls}"
    )
    meta = {
        "source": "learned",
        "avoid": loser.model,
        "why": why,
        "evidence": {
            r.model: {"calls": r.calls, "successes": r.successes} for r in (loser, winner)
        },
        "updatedAt": utcnow().isoformat(),
    }
    with store.sessions.begin() as s:
        write_lock(s, "kaizen:learned-rules")  # check, then insert: one writer at a time
        existing = [
            row
            for row in s.scalars(
                select(RoutingRule).where(
                    RoutingRule.pattern == pattern, RoutingRule.preferred_model == winner.model
                )
            )
            if (row.meta or {}).get("source") == "learned"
        ]
        if existing:
            row = existing[0]
            row.meta = {**(row.meta or {}), **meta}
        else:
            row = RoutingRule(
                pattern=pattern, preferred_model=winner.model, priority=0, active=False, meta=meta
            )
            s.add(row)
        s.flush()
        return as_json(row)

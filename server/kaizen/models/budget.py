"""The daily budget and model prices.

``kaizen.budget.dailyUsd`` caps what the workspace spends on model calls per day (local
midnight to midnight); spend is the sum of ``model_calls.cost_usd`` since midnight in the
database the workspace uses. When it is spent, ``kaizen.budget.whenExceeded`` decides:
``cheapest`` routes every call to the cheapest model of the cheapest configured layer,
``stop`` makes no model calls until tomorrow. Either way the user is told, with the way to
raise the limit.

Prices come from litellm's bundled cost map, looked up only if litellm is already imported
(routing never waits for that import); unknown models cost 0.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from .policy import LAYERS

TYPICAL_PROMPT_TOKENS = 1500  # a review prompt: numbered code, learnings, instructions
TYPICAL_COMPLETION_TOKENS = 300


def day_start(now: datetime | None = None) -> datetime:
    """Today's local midnight, as an aware UTC datetime (the database stores UTC)."""
    local = (now or datetime.now(timezone.utc)).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


@dataclass(frozen=True)
class BudgetState:
    limit_usd: float
    spent_usd: float
    when_exceeded: str  # cheapest | stop

    @property
    def exceeded(self) -> bool:
        return self.spent_usd >= self.limit_usd

    def notice(self, cheapest: str | None = None) -> str:
        """What the user is told (stable text, so an editor shows it once)."""
        how = (
            "Raise it with kaizen.budget.dailyUsd (or KAIZEN_BUDGET_DAILY_USD), or set "
            "kaizen.budget.whenExceeded."
        )
        if self.when_exceeded == "stop" or cheapest is None:
            return (
                f"Kaizen's daily model budget (${self.limit_usd:.2f}) is spent: no model calls "
                f"until tomorrow. {how}"
            )
        return (
            f"Kaizen's daily model budget (${self.limit_usd:.2f}) is spent: every call now "
            f"goes to the cheapest model, {cheapest}, until tomorrow. {how}"
        )


def state(limit_usd: float | None, spent_usd: float, when_exceeded: str) -> BudgetState | None:
    if limit_usd is None:
        return None
    return BudgetState(float(limit_usd), spent_usd, when_exceeded)


def price_hint(model: str) -> float | None:
    """USD for a typical call of ``model`` from litellm's cost map; None if unknown or if
    litellm is not imported yet."""
    litellm = sys.modules.get("litellm")
    costs = getattr(litellm, "model_cost", None) if litellm is not None else None
    if not isinstance(costs, Mapping):
        return None
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    for name in names:
        entry = costs.get(name)
        if isinstance(entry, Mapping):
            prompt = float(entry.get("input_cost_per_token") or 0.0)
            completion = float(entry.get("output_cost_per_token") or 0.0)
            return prompt * TYPICAL_PROMPT_TOKENS + completion * TYPICAL_COMPLETION_TOKENS
    return None


def cheapest_layer(layers: Mapping[str, Sequence[str]]) -> list[str]:
    """The models of the cheapest non-empty layer (fast, else balanced, else deep)."""
    for name in (*LAYERS, *layers):
        if layers.get(name):
            return list(layers[name])
    return []


def by_price(models: Sequence[str], known: Mapping[str, float]) -> list[str]:
    """``models`` cheapest first: measured cost per call, else litellm's price, else 0;
    ties keep the configured order."""

    def cost(item: tuple[int, str]) -> tuple[float, int]:
        i, model = item
        price = known.get(model)
        if price is None:
            price = price_hint(model) or 0.0
        return (price, i)

    return [m for _, m in sorted(enumerate(models), key=cost)]

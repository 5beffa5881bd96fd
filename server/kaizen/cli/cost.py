"""The one line ``kaizen check`` ends its summary with: what the run was predicted to cost
(``models.predict``, before each call) beside what it did cost (litellm's price of the
answer). Kept apart from check.py so the summary can change without touching it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def predicted_cost_line(results: Iterable[Any]) -> str | None:
    """``results``: ``RunResult``s (or ``(doc, RunResult)`` pairs); None when no model
    was called or nothing called has a price."""
    predicted = actual = 0.0
    calls = False
    for item in results:
        result = item[1] if isinstance(item, tuple) else item
        totals = result.totals
        if totals.prompt_tokens or totals.predicted_cost_usd or totals.cost_usd:
            calls = True
        predicted += totals.predicted_cost_usd
        actual += totals.cost_usd
    if not calls or (not predicted and not actual):  # nothing priced (local, self-hosted)
        return None
    return f"kaizen: predicted cost of this run ${predicted:.4f} (actual ${actual:.4f})"

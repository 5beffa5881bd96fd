"""How good the cost predictions are: mean absolute percentage error per model.

``models.predict`` stores its prediction beside each call's actual numbers in
``model_calls``; this reads them back. Calls with an actual value of 0 (free models, a
provider that reported no usage) are left out of that value's error (a percentage of 0 is
undefined), so a free model reports token errors but no cost error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from ..memory.schema import ModelCall


def _ape(predicted: Any, actual: Any) -> Any:
    """|predicted - actual| / actual where both are known and actual > 0, else NULL."""
    return case(
        (
            (predicted.is_not(None)) & (actual > 0),
            func.abs(predicted - actual) * 1.0 / actual,
        ),
        else_=None,
    )


def prediction_error(store: Any) -> list[dict[str, Any]]:
    """Per model: predicted calls, and the MAPE of cost, prompt and completion tokens
    (None where there is nothing to compare)."""
    c = ModelCall
    query = (
        select(
            c.model,
            func.count(c.predicted_prompt_tokens),
            func.avg(_ape(c.predicted_cost_usd, c.cost_usd)),
            func.avg(_ape(c.predicted_prompt_tokens, c.prompt_tokens)),
            func.avg(_ape(c.predicted_completion_tokens, c.completion_tokens)),
        )
        .where(c.predicted_prompt_tokens.is_not(None))
        .group_by(c.model)
        .order_by(c.model)
    )
    with store.readers() as s:
        rows = s.execute(query).all()
    return [
        {
            "model": model,
            "predictedCalls": int(n),
            "costMape": None if cost is None else float(cost),
            "promptTokensMape": None if prompt is None else float(prompt),
            "completionTokensMape": None if completion is None else float(completion),
        }
        for model, n, cost, prompt, completion in rows
    ]


def render(rows: list[dict[str, Any]]) -> list[str]:
    """Lines for ``kaizen metrics``' text report."""
    if not rows:
        return []

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    out = ["Cost prediction error (mean absolute percentage):"]
    out.append(f"  {'model':<36} {'cost':>6} {'prompt':>7} {'answer':>7} {'calls':>6}")
    for r in rows:
        out.append(
            f"  {r['model'][:36]:<36} {pct(r['costMape']):>6} {pct(r['promptTokensMape']):>7} "
            f"{pct(r['completionTokensMape']):>7} {r['predictedCalls']:>6}"
        )
    return out

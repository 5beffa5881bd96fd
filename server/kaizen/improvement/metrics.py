"""``performance_metrics``: named measurements (latency, tokens, benchmark results, ...) with
a unit and a JSON context, recorded by Kaizen itself or by anyone through ``recordMetric``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ..memory.schema import PerformanceMetric


def record_metric(
    store: Any, name: str, value: float, unit: str = "", context: dict[str, Any] | None = None
) -> dict[str, Any]:
    with store.sessions.begin() as s:
        row = PerformanceMetric(name=name, value=float(value), unit=unit, context=context or {})
        s.add(row)
        s.flush()
        return as_json(row)


def as_json(row: PerformanceMetric) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "value": row.value,
        "unit": row.unit,
        "context": row.context or {},
        "recordedAt": row.recorded_at.isoformat() if row.recorded_at else None,
    }


def summary(store: Any, limit: int = 20) -> list[dict[str, Any]]:
    """Per metric name: count, mean, min, max and the latest value."""
    with store.session() as s:
        groups = s.execute(
            select(
                PerformanceMetric.name,
                PerformanceMetric.unit,
                func.count(),
                func.avg(PerformanceMetric.value),
                func.min(PerformanceMetric.value),
                func.max(PerformanceMetric.value),
                func.max(PerformanceMetric.id),
            )
            .group_by(PerformanceMetric.name, PerformanceMetric.unit)
            .order_by(func.max(PerformanceMetric.id).desc())
            .limit(limit)
        ).all()
        out = []
        for name, unit, count, mean, low, high, last_id in groups:
            latest = s.get(PerformanceMetric, last_id)
            out.append(
                {
                    "name": name,
                    "unit": unit,
                    "count": count,
                    "mean": mean,
                    "min": low,
                    "max": high,
                    "latest": latest.value if latest else None,
                }
            )
        return out

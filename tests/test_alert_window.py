"""The alert window's read (one prepared statement on a plain connection, after every
recorded call) returns what the ORM query it replaced returns, row for row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import or_, select

from kaizen.config import Settings
from kaizen.improvement.alerts import WindowStats, read_window
from kaizen.memory.schema import ModelCall
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, ModelTarget


def orm_window(store: Store, limit: int, model: str, task: str) -> list[tuple[str, float, float]]:
    c = ModelCall
    query = (
        select(c.status, c.latency_ms, c.cost_usd)
        .where(c.model == model, c.task == task, or_(c.reached.is_(None), c.reached.is_(True)))
        .order_by(c.id.desc())
        .limit(limit)
    )
    with store.readers() as s:
        return [(str(r[0]), float(r[1] or 0.0), float(r[2] or 0.0)) for r in s.execute(query)]


def test_window_read_equals_the_orm_query(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "k.db")
    statuses = ("ok", "invalid", "error")
    for i in range(70):
        model = ("openai/a", "openai/b")[i % 2]
        task = ("issue_detector", "fix_generator")[(i // 2) % 2]
        outcome = CallOutcome(
            task, ModelTarget(model), statuses[i % 3], latency_ms=float(i), cost_usd=i / 1000
        )
        outcome.reached = i % 5 != 0  # some calls never reached the model: left out
        store.record_call(None, outcome)
    settings = Settings().alerts.model_copy(update={"window": 5, "baseline": 7})
    for model in ("openai/a", "openai/b", "openai/none"):
        for task in ("issue_detector", "fix_generator"):
            rows = orm_window(store, 12, model, task)
            read = read_window(store, settings, model, task)
            if len(rows) < 5:
                assert read is None
                continue
            assert read is not None
            assert read == (WindowStats.of(rows[:5]), rows[5:])
    assert (
        read_window(store, settings.model_copy(update={"window": 40}), "openai/a", "fix_generator")
        is None
    )
    store.close()

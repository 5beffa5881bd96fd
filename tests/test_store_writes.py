"""A call's row and a run's final row, written with Core statements, are the rows the ORM
wrote: every column but the time of the write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from kaizen.core.runs import RunStatus, RunTotals
from kaizen.memory.schema import ModelCall, Run, utcnow
from kaizen.memory.store import Store, _call_row
from kaizen.models.gateway import CallOutcome, ModelTarget
from kaizen.models.predict import Prediction

TIMES = {"created_at", "started_at", "finished_at"}


def rows(store: Store, table: Any) -> list[tuple[Any, ...]]:
    columns = [c for c in table.__table__.c if c.name not in TIMES]
    with store.readers() as s:
        return [tuple(r) for r in s.execute(select(*columns).order_by(table.id))]


def outcomes() -> list[CallOutcome]:
    out = []
    for i, status in enumerate(("ok", "invalid", "error", "ok")):
        o = CallOutcome(
            "issue_detector", ModelTarget(f"openai/m{i}", "http://x"), status,
            error=None if status == "ok" else f"e{i}", prompt_tokens=100 + i,
            completion_tokens=i, cost_usd=i / 7, latency_ms=i * 1.5,
        )  # fmt: skip
        o.reached = i != 2
        o.predicted = Prediction(90 + i, 5, None if i == 1 else i / 3) if i % 2 else None
        out.append(o)
    return out


def test_call_rows_equal_the_orm_rows(tmp_path: Path) -> None:
    core, orm = Store.open(tmp_path / "core.db"), Store.open(tmp_path / "orm.db")
    for store in (core, orm):
        store.start_run("autofix", "file:///a.py", "/r", "python", None)
    for o in outcomes():
        core.record_call(1, o)
        with orm.sessions.begin() as s:
            s.add(_call_row(1, o))
    assert rows(core, ModelCall) == rows(orm, ModelCall)
    assert len(rows(core, ModelCall)) == 4
    core.close()
    orm.close()


def test_a_runs_final_row_equals_the_orm_update(tmp_path: Path) -> None:
    core, orm = Store.open(tmp_path / "core.db"), Store.open(tmp_path / "orm.db")
    totals = RunTotals("openai", "openai/m0", 1200, 30, 0.25, 812.5, 0.2)
    for store in (core, orm):
        store.start_run("autofix", "file:///a.py", "/r", "python", 3)
    core.complete_run(1, RunStatus.FAILED, totals, error="boom", insight_ids=[4, 2])
    with orm.sessions.begin() as s:
        s.execute(
            update(Run)
            .where(Run.id == 1)
            .values(
                status=RunStatus.FAILED.value, provider=totals.provider, model=totals.model,
                prompt_tokens=totals.prompt_tokens, completion_tokens=totals.completion_tokens,
                cost_usd=totals.cost_usd, latency_ms=totals.latency_ms, findings_count=0,
                error="boom", insight_ids=[4, 2], finished_at=utcnow(),
            )
        )  # fmt: skip
    assert rows(core, Run) == rows(orm, Run)
    with core.readers() as s:
        assert s.scalars(select(Run)).one().finished_at is not None
    core.close()
    orm.close()

"""``upsert_increment`` with its statement built once per shape writes the rows the
statement built around each call's values wrote: increments, assignments, insert-only
values, JSON columns, on every table that uses it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select

from kaizen.memory.schema import BugPattern, ModelPerformance, RegressionTest
from kaizen.memory.sql import dialect_insert, upsert_increment
from kaizen.memory.store import Store


def built_per_call(
    session: Any,
    table: Table,
    keys: dict[str, Any],
    increments: dict[str, Any],
    assign: dict[str, Any] | None = None,
    insert_only: dict[str, Any] | None = None,
) -> None:
    """The upsert as it was written before: a statement around the call's values."""
    assign = dict(assign or {})
    values = {**keys, **increments, **assign, **(insert_only or {})}
    stmt = dialect_insert(session, table).values(values)
    updates = {name: table.c[name] + stmt.excluded[name] for name in increments}
    updates.update({name: stmt.excluded[name] for name in assign})
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates))


def calls() -> list[tuple[Table, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]]:
    t0 = dt.datetime(2026, 1, 2, 3, 4, 5)
    out = []
    for i in range(12):
        model = f"openai/m{i % 3}"
        out.append(
            (
                ModelPerformance.__table__,
                {"model": model, "task_type": ("issue_detector", "fix_generator")[i % 2]},
                {"calls": 1, "successes": 0.5 * (i % 3), "total_latency_ms": 1.25 * i},
                {"updated_at": t0 + dt.timedelta(seconds=i)},
                {},
            )
        )
        out.append(
            (
                BugPattern.__table__,
                {"category": "invalid-output", "pattern": f"p{i % 4}"},
                {"occurrences": 1},
                {"description": f"d{i}", "metadata": {"i": i, "nested": [i, None]}},
                {"first_seen": t0 + dt.timedelta(minutes=i)},
            )
        )
        out.append(
            (
                RegressionTest.__table__,
                {"test_name": f"t{i % 5}"},
                {},
                {"category": "c", "description": f"d{i}", "test_code": "x", "metadata": [i]},
                {},
            )
        )
    return out


def dump(store: Store) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the three tables: the id and every column ``calls`` writes (a column
    left to its default holds the time of the write, different in any two databases)."""
    written: dict[str, set[str]] = {}
    for table, *parts in calls():
        written.setdefault(table.name, {"id"}).update(*parts)
    out = {}
    with store.readers() as s:
        for model in (ModelPerformance, BugPattern, RegressionTest):
            table = model.__table__
            columns = [c for c in table.c if c.name in written[table.name]]
            rows = s.execute(select(*columns)).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


def test_rows_equal_those_of_a_statement_built_per_call(tmp_path: Path) -> None:
    fast, slow = Store.open(tmp_path / "fast.db"), Store.open(tmp_path / "slow.db")
    for table, keys, increments, assign, insert_only in calls():
        with fast.sessions.begin() as s:
            upsert_increment(s, table, keys, increments, assign, insert_only=insert_only)
        with slow.sessions.begin() as s:
            built_per_call(s, table, keys, increments, assign, insert_only)
    assert dump(fast) == dump(slow)
    assert len(dump(fast)["model_performance"]) == 6
    fast.close()
    slow.close()


def test_a_sql_expression_value_still_works(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "k.db")
    for _ in range(2):
        with store.sessions.begin() as s:
            upsert_increment(
                s,
                ModelPerformance.__table__,
                {"model": "m", "task_type": "t"},
                {"calls": 1},
                {"updated_at": func.current_timestamp()},
            )
    with store.readers() as s:
        row = s.scalars(select(ModelPerformance)).one()
        assert row.calls == 2 and row.updated_at is not None
    store.close()

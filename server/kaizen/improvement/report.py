"""The analysis report behind ``kaizen metrics`` and ``kaizen.analyzeMetrics``.

Per task type, the models in the order the learned policy prefers them (the same
``models.policy.rank`` the router uses), with success rate, acceptance, latency, cost and
calls; counts of regression tests, bug patterns and routing heuristics; the most recent bugs;
today's spend; and the recorded metrics. Failed runs not yet looked at are recorded as bug
patterns first, so the report is complete.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ..memory.schema import BugPattern, PerformanceMetric, RegressionTest, RoutingRule, Run
from ..models import budget
from ..models.policy import elsewhere, rank
from . import bugs, forecast, heuristics, metrics, performance
from .events import DROPPED_METRIC


def analyze(
    store: Any,
    task_type: str | None = None,
    recent: int = 10,
    daily_budget_usd: float | None = None,
) -> dict[str, Any]:
    bugs.sweep_failed_runs(store)
    stats = performance.load_stats(store)
    raw = {(r["taskType"], r["model"]): r for r in performance.rows(store)}
    models: dict[str, list[dict[str, Any]]] = {}
    for task in sorted(stats):
        if task_type and task != task_type:
            continue
        rows = stats[task]
        prices = {m: p for m in rows if (p := budget.price_hint(m)) is not None}
        ranking = rank(list(rows), rows, prices, others=elsewhere(stats, task))
        models[task] = [
            {
                "rank": i,
                **e.as_dict(),
                # of the calls that reached the model, not of every attempt
                "successRate": raw.get((task, e.model), {}).get("successRate", 0.0),
                "invalid": raw.get((task, e.model), {}).get("invalid", 0),
                "errors": raw.get((task, e.model), {}).get("errors", 0),
                "unreached": raw.get((task, e.model), {}).get("unreached", 0),
                "accepted": rows[e.model].accepted,
                "rejected": rows[e.model].rejected,  # dismissed by users, nothing else
                "dropped": rows[e.model].dropped,  # dropped by grounding
            }
            for i, e in enumerate(ranking, 1)
        ]
    with store.session() as s:
        pattern_count, occurrences = s.execute(
            select(func.count(), func.coalesce(func.sum(BugPattern.occurrences), 0))
        ).one()
        tests = s.scalar(select(func.count()).select_from(RegressionTest)) or 0
        rule_rows = list(s.scalars(select(RoutingRule)))
        runs = dict(s.execute(select(Run.status, func.count()).group_by(Run.status)).all())
        dropped: dict[str, int] = {}
        for context in s.scalars(
            select(PerformanceMetric.context).where(PerformanceMetric.name == "findings_dropped")
        ):
            for kind, n in (context or {}).items():
                if kind not in ("model", "task") and isinstance(n, int):
                    dropped[kind] = dropped.get(kind, 0) + n
    spent = store.spend_since(budget.day_start())
    return {
        "predictionError": forecast.prediction_error(store),
        # the editor protocol's flat rows (docs/protocol.md), and the same rows per task type
        "models": [
            {**row, "taskType": task, "avgCost": row.get("avgCostUsd")}
            for task, ranking in models.items()
            for row in ranking
        ],
        "rankings": models,
        "counts": {
            "regressionTests": tests,
            "bugPatterns": pattern_count,
            "bugOccurrences": int(occurrences or 0),
            "heuristics": len(rule_rows),
            "activeHeuristics": sum(1 for r in rule_rows if r.active),
            "learnedHeuristics": sum(
                1 for r in rule_rows if (r.meta or {}).get("source") == "learned"
            ),
            "runs": runs,
            "droppedFindings": {"total": sum(dropped.values()), **dropped},
        },
        "recentBugs": bugs.list_patterns(store, limit=recent),
        "heuristics": heuristics.list_rules(store),
        "metrics": metrics.summary(store),
        "spend": {
            "todayUsd": round(spent, 6),
            "budgetUsd": daily_budget_usd,
            "dailyBudgetUsd": daily_budget_usd,
        },
    }


def _money(value: float) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


def render_text(report: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    if not report["rankings"]:
        add("Models: no calls recorded yet.")
    for task, ranking in report["rankings"].items():
        add(f"Models for {task} (the router's order of preference):")
        add(
            f"  {'#':>2} {'model':<36} {'quality':>7} {'success':>7} {'accept':>6} "
            f"{'latency':>9} {'cost/call':>10} {'calls':>6}"
        )
        for row in ranking:
            accept = "-" if row["acceptance"] is None else f"{row['acceptance']:.0%}"
            add(
                f"  {row['rank']:>2} {row['model'][:36]:<36} {row['quality']:>7.2f} "
                f"{row['successRate']:>7.0%} {accept:>6} {row['avgLatencyMs']:>7.0f}ms "
                f"{_money(row['avgCostUsd']):>10} {row['calls']:>6}"
            )
            failures = []
            if row["invalid"]:
                failures.append(f"{row['invalid']} invalid answers")
            if reached_errors := row["errors"] - row.get("unreached", 0):
                failures.append(f"{reached_errors} errors")
            if row.get("unreached"):
                failures.append(f"{row['unreached']} calls never reached the model")
            if row["accepted"] or row["rejected"] or row.get("dropped"):
                failures.append(
                    f"findings: {row['accepted']} accepted, {row['rejected']} dismissed, "
                    f"{row.get('dropped', 0)} dropped by grounding"
                )
            if failures:
                add(f"     {'':<36} {', '.join(failures)}")
        add("")
    c = report["counts"]
    add(
        f"Regression tests: {c['regressionTests']}   Bug patterns: {c['bugPatterns']} "
        f"({c['bugOccurrences']} occurrences)   Routing heuristics: {c['heuristics']} "
        f"({c['activeHeuristics']} active, {c['learnedHeuristics']} learned)"
    )
    total = sum(c["runs"].values())
    runs = ", ".join(f"{n} {status}" for status, n in sorted(c["runs"].items()))
    add(
        f"Pipeline runs (one per document and pipeline each time it is reviewed): {total}"
        + (f" ({runs})" if runs else "")
    )
    drops = c.get("droppedFindings") or {}
    if drops.get("total"):
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(drops.items()) if k != "total")
        add(f"Model findings dropped by grounding: {drops['total']} ({kinds})")
    spend = report["spend"]
    limit = spend["dailyBudgetUsd"]
    add(
        f"Spent today: {_money(spend['todayUsd'])}"
        + (f" of a {_money(limit)} daily budget" if limit is not None else " (no daily budget)")
    )
    if lines_of_error := forecast.render(report.get("predictionError") or []):
        add("")
        lines.extend(lines_of_error)
    if report["heuristics"]:
        add("")
        add("Routing heuristics:")
        for rule in report["heuristics"]:
            target = rule["preferredModel"] or f"layer {rule['preferredLayer']}"
            state = "active" if rule["active"] else "inactive"
            why = (rule["metadata"] or {}).get("why")
            add(
                f"  #{rule['id']} /{rule['pattern']}/ -> {target} (priority {rule['priority']}, "
                f"{state}, {(rule['metadata'] or {}).get('source', 'user')})"
                + (f": {why}" if why else "")
            )
    add("")
    if report["recentBugs"]:
        add("Recent bugs:")
        for bug in report["recentBugs"]:
            seen = (bug["lastSeen"] or "")[:19].replace("T", " ")
            add(f"  #{bug['id']} [{bug['category']}] x{bug['occurrences']} {bug['pattern']}")
            add(f"      last {seen}, {bug['severity']}: {bug['solution']}")
    else:
        add("Recent bugs: none.")
    # the grounding drops are the line above, not a second count of the same findings
    recorded = [m for m in report["metrics"] if m["name"] != DROPPED_METRIC]
    if recorded:
        add("")
        add("Metrics:")
        for m in recorded:
            u = _unit(m["unit"])
            add(
                f"  {m['name']}: latest {m['latest']:g}{u} (mean {m['mean']:g}{u}, "
                f"min {m['min']:g}{u}, max {m['max']:g}{u}, {m['count']} recorded)"
            )
    return "\n".join(lines).rstrip() + "\n"


def _unit(unit: str) -> str:
    """A symbol sticks to its number (``1.5s``, ``840ms``, ``12%``), a word does not
    (``3 findings``, never ``3findings``)."""
    return unit if len(unit) <= 2 else f" {unit}"

"""Rules by source: how often their findings are accepted, and what they saved.

Sources: ``written`` (instruction files and hand-written rule files), ``learned`` (accepted
proposals, ``learned.md``) and ``promoted`` (ast-grep rules whose YAML says
``metadata: {source: promoted}``, made from fixes accepted again and again). A rule id is a
category: its findings are the findings table's rows whose code is the id.

Saved tokens and dollars are an estimate: (findings the rule produced + findings it
suppressed) x the average tokens and cost per model finding in this database (all model
calls' tokens and cost / all findings a model reported). A suppressed finding is one the
review policy dropped because of the rule, counted once per run
(``rules.suppressed`` rows in performance_metrics, written by ``record_suppressed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ..memory.schema import FindingRow, ModelCall, PerformanceMetric
from .files import yaml_rules

SUPPRESSED = "rules.suppressed"
SOURCES = ("written", "learned", "promoted")
__all__ = ["RulesCollector", "for_repository", "record_suppressed", "report", "yaml_rules"]


def record_suppressed(store: Any, repository: str, result: Any) -> None:
    """Count, per rule, the findings of one run that a rule suppressed."""
    counts: dict[str, int] = {}
    for f in result.suppressed:
        reason = f.suppressed or ""
        if reason.startswith("rule "):
            rule_id = reason[5:].split(": ", 1)[0]
            counts[rule_id] = counts.get(rule_id, 0) + 1
    if not counts:
        return
    with store.sessions.begin() as s:
        for rule_id, n in counts.items():
            s.add(
                PerformanceMetric(
                    name=SUPPRESSED,
                    value=float(n),
                    unit="findings",
                    context={"rule": rule_id, "repository": repository},
                )
            )


def per_finding(store: Any) -> tuple[float, float]:
    """Average (tokens, USD) per model finding, from the model-call record."""
    with store.readers() as s:
        tokens, cost = s.execute(
            select(
                func.coalesce(func.sum(ModelCall.prompt_tokens + ModelCall.completion_tokens), 0),
                func.coalesce(func.sum(ModelCall.cost_usd), 0.0),
            )
        ).one()
        found = s.scalar(
            select(func.count()).select_from(FindingRow).where(FindingRow.origin == "model")
        )
    if not found:
        return 0.0, 0.0
    return float(tokens) / found, float(cost) / found


def report(
    store: Any, rules: list[dict[str, Any]], repository: str | None = None
) -> dict[str, Any]:
    """Per source and per rule: findings, accepted, dismissed, acceptance rate, suppressed,
    estimated tokens and dollars saved (module doc). ``rules``: listings (``proposals``)."""
    ids = {r["id"] for r in rules}
    stats: dict[str, dict[str, int]] = {
        i: {"findings": 0, "accepted": 0, "dismissed": 0, "suppressed": 0} for i in ids
    }
    with store.readers() as s:
        query = select(FindingRow.code, FindingRow.status, func.count()).where(
            FindingRow.code.in_(ids)
        )
        if repository:
            query = query.where(FindingRow.repository == repository)
        for code, status, n in s.execute(query.group_by(FindingRow.code, FindingRow.status)):
            row = stats[code]
            row["findings"] += n
            if status in ("accepted", "fixed_by_hand"):
                row["accepted"] += n
            elif status == "rejected":
                row["dismissed"] += n
        for value, context in s.execute(
            select(PerformanceMetric.value, PerformanceMetric.context).where(
                PerformanceMetric.name == SUPPRESSED
            )
        ):
            ctx = context or {}
            if ctx.get("rule") in stats and (not repository or ctx.get("repository") == repository):
                stats[ctx["rule"]]["suppressed"] += int(value)
    tokens, usd = per_finding(store)
    per_rule = []
    by_source: dict[str, dict[str, Any]] = {
        src: {"rules": 0, "findings": 0, "accepted": 0, "dismissed": 0, "suppressed": 0}
        for src in SOURCES
    }
    for r in rules:
        row = stats[r["id"]]
        decided = row["accepted"] + row["dismissed"]
        counted = row["findings"] + row["suppressed"]
        per_rule.append(
            {
                "id": r["id"],
                "origin": r["origin"],
                **row,
                "acceptanceRate": round(row["accepted"] / decided, 4) if decided else None,
                "tokensSaved": round(counted * tokens),
                "usdSaved": round(counted * usd, 6),
            }
        )
        total = by_source[r["origin"]]
        total["rules"] += 1
        for key in ("findings", "accepted", "dismissed", "suppressed"):
            total[key] += row[key]
    for total in by_source.values():
        decided = total["accepted"] + total["dismissed"]
        counted = total["findings"] + total["suppressed"]
        total["acceptanceRate"] = round(total["accepted"] / decided, 4) if decided else None
        total["tokensSaved"] = round(counted * tokens)
        total["usdSaved"] = round(counted * usd, 6)
    return {
        "bySource": by_source,
        "rules": per_rule,
        "perFinding": {"tokens": round(tokens, 1), "usd": round(usd, 6)},
        "estimate": "(findings produced + suppressed) x average tokens and cost per model finding",
    }


def for_repository(store: Any, root: Path) -> dict[str, Any]:
    """``report`` for the repository at ``root``: its rules (every source) and outcomes."""
    from .proposals import Workspace, all_rules, rule_json

    ws = Workspace.of(root)
    rules, _ = all_rules(ws.root)
    listings = [rule_json(r, ws.root) for r in rules] + yaml_rules(ws.root)
    out = report(store, listings, ws.repository)
    out["repository"] = ws.repository
    return out


def render_text(rules: dict[str, Any]) -> str:
    """The rules section of ``kaizen metrics``."""
    per = rules["perFinding"]
    lines = [
        "Rules by source (acceptance of their findings; saved = (findings + suppressed) x "
        f"{per['tokens']:.0f} tokens / ${per['usd']:.4f} per model finding):"
    ]
    for source, row in rules["bySource"].items():
        rate = "-" if row["acceptanceRate"] is None else f"{row['acceptanceRate']:.0%}"
        lines.append(
            f"  {source:<9} {row['rules']:>3} rules  {row['findings']:>5} findings  "
            f"accepted {rate:>4}  suppressed {row['suppressed']:>5}  "
            f"saved {row['tokensSaved']:>8} tokens ${row['usdSaved']:.4f}"
        )
    return "\n".join(lines) + "\n"


class RulesCollector:
    """``/metrics``: the rules by source as Prometheus gauges (read at scrape time)."""

    TTL_S = 60.0  # a scrape every 15 s must not walk the repository every time

    def __init__(self, store: Any, root: Path | None) -> None:
        self.store, self.root = store, root
        self._cached: tuple[float, dict[str, Any]] | None = None

    def _data(self) -> dict[str, Any]:
        import time

        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.TTL_S:
            self._cached = (now, for_repository(self.store, self.root or Path.cwd()))
        return self._cached[1]

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        data = self._data()
        families = {
            "rules": GaugeMetricFamily("kaizen_rules", "Review rules", labels=["source"]),
            "findings": GaugeMetricFamily(
                "kaizen_rule_findings", "Findings whose code is a rule id", labels=["source"]
            ),
            "acceptanceRate": GaugeMetricFamily(
                "kaizen_rule_acceptance_ratio", "Accepted / decided findings", labels=["source"]
            ),
            "suppressed": GaugeMetricFamily(
                "kaizen_rule_suppressed", "Findings suppressed by rules", labels=["source"]
            ),
            "tokensSaved": GaugeMetricFamily(
                "kaizen_rule_tokens_saved", "Estimated model tokens saved", labels=["source"]
            ),
            "usdSaved": GaugeMetricFamily(
                "kaizen_rule_usd_saved", "Estimated US dollars saved", labels=["source"]
            ),
        }
        for source, row in data["bySource"].items():
            for key, family in families.items():
                if row.get(key) is not None:
                    family.add_metric([source], float(row[key]))
        yield from families.values()

"""Prometheus metrics: the shared record read at scrape time, plus what this process saw.

Two sources, one exposition:

- ``RecordCollector`` reads the database when Prometheus scrapes (``model_calls``,
  ``model_performance``, ``findings``, today's spend). On a team's PostgreSQL database one
  exporter (``kaizen serve-http``) therefore serves everybody's record, and a restart loses
  nothing: the counters are sums the database already keeps.
- ``PROCESS`` holds what only this process can see: the latency of the calls it made (an
  in-process histogram), findings it suppressed, cache hits, alerts it raised. Other modules
  report through the small functions below (``observe_attempt``, ``count_suppressed``,
  ``count_cache_hit``); they cost a dictionary lookup and a lock, never a database write.

Labels are low-cardinality on purpose: model, task type, pipeline, outcome — never a file,
a repository or a finding. ``prometheus_client`` is imported by this module only, which is
imported only off the editor's start path (after ``initialize``, or by the HTTP face).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from ..core.tasks import task as task_row
from ..memory.schema import FindingRow, ModelCall, ModelPerformance
from .alerts import degraded, signal_names

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
OUTCOMES = ("ok", "invalid", "error")

# what this process observed ------------------------------------------------------------

PROCESS = CollectorRegistry(auto_describe=True)
CALL_LATENCY = Histogram(
    "kaizen_process_model_call_latency_seconds",
    "Latency of the model calls this process made",
    ("model", "task_type", "pipeline", "outcome"),
    buckets=LATENCY_BUCKETS_S,
    registry=PROCESS,
)
SUPPRESSED = Counter(
    "kaizen_process_findings_suppressed",
    "Findings this process did not show because the user dismissed them before",
    ("pipeline",),
    registry=PROCESS,
)
CACHE_HITS = Counter(
    "kaizen_process_cache_hits",
    "Review-cache hits in this process (units whose findings were reused, no model call)",
    ("pipeline",),
    registry=PROCESS,
)
ALERTS = Gauge(
    "kaizen_process_alerts_active",
    "Degradation alerts this process has raised and not yet cleared (1 while active)",
    ("model", "task_type", "signal"),
    registry=PROCESS,
)
ALERTS_RAISED = Counter(
    "kaizen_process_alerts_raised",
    "Degradation alerts raised by this process",
    ("model", "task_type", "signal"),
    registry=PROCESS,
)


def pipeline_of(task: str) -> str:
    return task_row(task).pipeline


def observe_attempt(outcome: Any) -> None:
    """One model attempt (a gateway ``CallOutcome``): its latency, by model and outcome."""
    CALL_LATENCY.labels(
        outcome.target.model, outcome.task, pipeline_of(outcome.task), outcome.status
    ).observe(max(float(outcome.latency_ms or 0.0), 0.0) / 1000.0)


def count_suppressed(pipeline: str, n: int = 1) -> None:
    if n > 0:
        SUPPRESSED.labels(pipeline).inc(n)


def count_cache_hit(pipeline: str, n: int = 1) -> None:
    """For the review cache: ``n`` units of ``pipeline`` answered from the cache."""
    if n > 0:
        CACHE_HITS.labels(pipeline).inc(n)


def set_alert(model: str, task_type: str, signal: str, active: bool) -> None:
    ALERTS.labels(model, task_type, signal).set(1.0 if active else 0.0)
    if active:
        ALERTS_RAISED.labels(model, task_type, signal).inc()


# the shared record, read at scrape time --------------------------------------------------


class RecordCollector(Collector):
    """Reads the record on every ``collect`` (one short read of a few grouped queries).

    A failing database yields ``kaizen_record_up 0`` instead of an error page, so the
    dashboard shows the outage rather than a gap.
    """

    def __init__(self, store: Any, settings: Any = None) -> None:
        """``settings``: a ``Settings``, or a callable returning the current one (an editor
        session's settings change while it serves)."""
        self.store = store
        self.settings = settings

    def describe(self) -> list[Metric]:
        return []  # collected lazily: registering must not touch the database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("kaizen_record_up", "1 when the record could be read")
        try:
            families = list(self._families())
        except Exception:
            log.exception("could not read the record for /metrics")
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        yield from self._calls()
        yield from self._degraded()
        yield from self._outcomes()
        yield from self._findings()
        yield from self._budget()

    def _calls(self) -> Iterator[Metric]:
        labels = ["model", "task_type", "pipeline", "outcome"]
        calls = CounterMetricFamily("kaizen_model_calls", "Model calls recorded", labels=labels)
        invalid = CounterMetricFamily(
            "kaizen_invalid_answers",
            "Model answers that did not parse or validate",
            labels=["model", "task_type", "pipeline"],
        )
        tokens = CounterMetricFamily(
            "kaizen_model_tokens",
            "Tokens of recorded model calls",
            labels=["model", "task_type", "pipeline", "kind"],
        )
        cost = CounterMetricFamily(
            "kaizen_model_cost_usd",
            "USD spent on recorded model calls",
            labels=["model", "task_type", "pipeline"],
        )
        latency = HistogramMetricFamily(
            "kaizen_model_call_latency_seconds",
            "Latency of recorded model calls",
            labels=["model", "task_type", "pipeline"],
        )
        c = ModelCall
        bucket_columns = [
            func.sum(case((c.latency_ms <= bound * 1000.0, 1), else_=0))
            for bound in LATENCY_BUCKETS_S
        ]
        query = select(
            c.model,
            c.task,
            c.status,
            func.count(),
            func.coalesce(func.sum(c.prompt_tokens), 0),
            func.coalesce(func.sum(c.completion_tokens), 0),
            func.coalesce(func.sum(c.cost_usd), 0.0),
            func.coalesce(func.sum(c.latency_ms), 0.0),
            *bucket_columns,
        ).group_by(c.model, c.task, c.status)
        per_key: dict[tuple[str, str], dict[str, Any]] = {}
        with self.store.readers() as s:
            rows = s.execute(query).all()
        for model, task, status, count, prompt, completion, usd, total_ms, *buckets in rows:
            pipeline = pipeline_of(task)
            calls.add_metric([model, task, pipeline, status], float(count))
            if status == "invalid":
                invalid.add_metric([model, task, pipeline], float(count))
            acc = per_key.setdefault(
                (model, task),
                {
                    "prompt": 0,
                    "completion": 0,
                    "usd": 0.0,
                    "count": 0,
                    "ms": 0.0,
                    "buckets": [0] * len(LATENCY_BUCKETS_S),
                },
            )
            acc["prompt"] += int(prompt)
            acc["completion"] += int(completion)
            acc["usd"] += float(usd)
            acc["count"] += int(count)
            acc["ms"] += float(total_ms)
            acc["buckets"] = [a + int(b or 0) for a, b in zip(acc["buckets"], buckets, strict=True)]
        for (model, task), acc in sorted(per_key.items()):
            pipeline = pipeline_of(task)
            tokens.add_metric([model, task, pipeline, "prompt"], float(acc["prompt"]))
            tokens.add_metric([model, task, pipeline, "completion"], float(acc["completion"]))
            cost.add_metric([model, task, pipeline], acc["usd"])
            edges = [
                (str(b), float(n)) for b, n in zip(LATENCY_BUCKETS_S, acc["buckets"], strict=True)
            ]
            latency.add_metric(
                [model, task, pipeline], [*edges, ("+Inf", float(acc["count"]))], acc["ms"] / 1000.0
            )
        yield from (calls, invalid, tokens, cost, latency)

    def _settings(self) -> Any:
        return self.settings() if callable(self.settings) else self.settings

    def _degraded(self) -> Iterator[Metric]:
        """The degradation signals every (model, task) crosses now, read from the record
        with the alert settings (``improvement.alerts.degraded``): the team exporter's view
        of alerts, for Grafana and Prometheus alert rules."""
        family = GaugeMetricFamily(
            "kaizen_model_degraded",
            "1 for each degradation signal a model's recent window crosses on a task",
            labels=["model", "task_type", "pipeline", "signal"],
        )
        settings = getattr(self._settings(), "alerts", None)
        if settings is not None and settings.enabled:
            p = ModelPerformance
            with self.store.readers() as s:
                pairs = s.execute(select(p.model, p.task_type).where(p.calls > 0)).all()
            for model, task in pairs:
                for name in signal_names(degraded(self.store, settings, model, task)):
                    family.add_metric([model, task, pipeline_of(task), name], 1.0)
        yield family

    def _outcomes(self) -> Iterator[Metric]:
        """Accepted / dismissed findings per model and task, from ``model_performance``."""
        family = CounterMetricFamily(
            "kaizen_finding_outcomes",
            "Findings accepted (fixed, fixed by hand) or dismissed, credited to the model",
            labels=["model", "task_type", "pipeline", "outcome"],
        )
        p = ModelPerformance
        with self.store.readers() as s:
            rows = s.execute(select(p.model, p.task_type, p.accepted, p.rejected)).all()
        for model, task, accepted, rejected in rows:
            pipeline = pipeline_of(task)
            family.add_metric([model, task, pipeline, "accepted"], float(accepted or 0))
            family.add_metric([model, task, pipeline, "dismissed"], float(rejected or 0))
        yield family

    def _findings(self) -> Iterator[Metric]:
        shown = CounterMetricFamily(
            "kaizen_findings_shown",
            "Times findings were shown (a finding shown again counts again)",
            labels=["pipeline", "origin"],
        )
        current = GaugeMetricFamily(
            "kaizen_findings",
            "Distinct findings in the record by their current status",
            labels=["pipeline", "origin", "status"],
        )
        f = FindingRow
        query = select(
            f.pipeline, f.origin, f.status, func.count(), func.coalesce(func.sum(f.times_shown), 0)
        ).group_by(f.pipeline, f.origin, f.status)
        with self.store.readers() as s:
            rows = s.execute(query).all()
        times: dict[tuple[str, str], float] = {}
        for pipeline, origin, status, count, shown_times in rows:
            current.add_metric([pipeline, origin, status], float(count))
            times[(pipeline, origin)] = times.get((pipeline, origin), 0.0) + float(shown_times)
        for (pipeline, origin), value in sorted(times.items()):
            shown.add_metric([pipeline, origin], value)
        yield shown
        yield current

    def _budget(self) -> Iterator[Metric]:
        from ..models.budget import day_start

        spent = GaugeMetricFamily("kaizen_budget_spent_today_usd", "USD spent since midnight")
        spent_usd = float(self.store.spend_since(day_start()))
        spent.add_metric([], spent_usd)
        yield spent
        limit = getattr(getattr(self._settings(), "budget", None), "daily_usd", None)
        if limit is None:
            return  # no budget configured: no limit, nothing "left"
        yield GaugeMetricFamily("kaizen_budget_limit_usd", "The daily budget", value=float(limit))
        yield GaugeMetricFamily(
            "kaizen_budget_left_usd",
            "USD left of today's budget (0 when spent)",
            value=max(float(limit) - spent_usd, 0.0),
        )


class _ProcessCollector(Collector):
    """``PROCESS`` inside another registry (a collector may belong to several)."""

    def collect(self) -> Iterator[Metric]:
        yield from PROCESS.collect()


def registry(store: Any | None, settings: Any = None) -> CollectorRegistry:
    """A registry with this process's metrics and, given a store, the shared record."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_ProcessCollector())
    if store is not None:
        reg.register(RecordCollector(store, settings))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    """The Prometheus text format of ``reg``."""
    return generate_latest(reg)

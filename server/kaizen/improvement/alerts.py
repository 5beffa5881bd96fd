"""Degradation alerts: a model that starts failing on a task is noticed, announced, avoided.

After every recorded attempt the monitor reads that model's latest calls on that task from
``model_calls`` (the shared record, so calls made by other processes count too): the newest
``alerts.window`` calls are the *window*, the ``alerts.baseline`` calls before them the
model's own *baseline*. Four signals compare them (thresholds in ``alerts.thresholds``):
success rate dropped, invalid-answer rate rose, latency p95 grew, USD per call grew. Calls
that never reached the model (``model_calls.reached`` false) are left out of both.

When one crosses, an *incident* opens for (model, task) — one per incident, however many
calls follow: the face is told (an editor message and a ``kaizen/alert`` notification), the
webhook gets a Slack-compatible ``{"text": ...}`` POST, a ``model-degradation`` bug pattern
is recorded, and the router steers away from the model for ``alerts.steerS`` seconds at a
time (after that it is tried again, so the window can recover). The incident's baseline is
frozen while it lasts, so the burst does not become the new normal. When the window no
longer crosses any threshold the incident clears, and everyone is told that too.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, or_, select

from ..memory.schema import ModelCall
from . import bugs

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class WindowStats:
    calls: int
    success_rate: float
    invalid_rate: float
    latency_p95_ms: float
    usd_per_call: float

    @classmethod
    def of(cls, rows: list[tuple[str, float, float]]) -> WindowStats:
        """``rows``: (status, latency_ms, cost_usd) per call."""
        n = len(rows)
        if n == 0:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        latencies = sorted(float(r[1] or 0.0) for r in rows)
        return cls(
            calls=n,
            success_rate=sum(r[0] == "ok" for r in rows) / n,
            invalid_rate=sum(r[0] == "invalid" for r in rows) / n,
            latency_p95_ms=latencies[max(math.ceil(0.95 * n) - 1, 0)],
            usd_per_call=sum(float(r[2] or 0.0) for r in rows) / n,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "successRate": round(self.success_rate, 4),
            "invalidRate": round(self.invalid_rate, 4),
            "latencyP95Ms": round(self.latency_p95_ms, 1),
            "usdPerCall": self.usd_per_call,
        }


def crossed(window: WindowStats, baseline: WindowStats, thresholds: Any) -> list[str]:
    """The signals of ``window`` that cross their threshold against ``baseline``."""
    out = []
    if baseline.success_rate - window.success_rate >= thresholds.success_drop:
        out.append(f"success rate {window.success_rate:.0%} (baseline {baseline.success_rate:.0%})")
    if window.invalid_rate - baseline.invalid_rate >= thresholds.invalid_rise:
        out.append(
            f"invalid answers {window.invalid_rate:.0%} (baseline {baseline.invalid_rate:.0%})"
        )
    if (
        baseline.latency_p95_ms > 0
        and window.latency_p95_ms >= thresholds.latency_ratio * baseline.latency_p95_ms
        and window.latency_p95_ms - baseline.latency_p95_ms >= thresholds.latency_floor_ms
    ):
        out.append(
            f"latency p95 {window.latency_p95_ms / 1000:.1f} s "
            f"(baseline {baseline.latency_p95_ms / 1000:.1f} s)"
        )
    if baseline.usd_per_call > 0 and window.usd_per_call >= (
        thresholds.spend_ratio * baseline.usd_per_call
    ):
        out.append(
            f"spend ${window.usd_per_call:.4f} per call (baseline ${baseline.usd_per_call:.4f})"
        )
    return out


def signal_names(signals: list[str]) -> list[str]:
    """``success``, ``invalid``, ``latency``, ``spend``: the metric label of each signal."""
    names = {"success": "success", "invalid": "invalid", "latency": "latency", "spend": "spend"}
    return [names.get(s.split(" ", 1)[0], "other") for s in signals]


@dataclass
class Incident:
    model: str
    task: str
    signals: list[str]
    baseline: WindowStats
    window: WindowStats
    raised_at: float = field(default_factory=time.time)
    steer_until: float = 0.0  # monotonic seconds


@dataclass(frozen=True)
class AlertEvent:
    kind: str  # raised | cleared
    model: str
    task: str
    signals: tuple[str, ...]
    window: WindowStats
    baseline: WindowStats
    # other models the router could send the task to (None: not known to the monitor);
    # with none, routing away is not something Kaizen can do, and the message says so
    alternatives: int | None = None

    @property
    def text(self) -> str:
        if self.kind == "raised":
            return (
                f"Kaizen: {self.model} is degraded on {self.task}: {'; '.join(self.signals)} "
                f"over its last {self.window.calls} calls. {self.remedy}"
            )
        return (
            f"Kaizen: {self.model} recovered on {self.task} (success rate "
            f"{self.window.success_rate:.0%} over its last {self.window.calls} calls); the alert "
            "is cleared."
        )

    @property
    def remedy(self) -> str:
        if self.alternatives == 0:
            return (
                f"It is the only model configured for {self.task}, so Kaizen keeps using it: "
                "check the provider, or add another model to a layer (layers.*)."
            )
        return "Kaizen routes to other models until it recovers."

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "taskType": self.task,
            "alternatives": self.alternatives,
            "signals": list(self.signals),
            "window": self.window.as_json(),
            "baseline": self.baseline.as_json(),
            "message": self.text,
        }


def read_window(
    store: Any, settings: Any, model: str, task: str
) -> tuple[WindowStats, list[tuple[str, float, float]]] | None:
    """The window's stats and the rows before it (newest first); None when the window is
    not full yet. One indexed-by-order read of at most ``window + baseline`` rows, after
    every recorded call: one statement built once, on a plain connection (no ORM session:
    a third of the read's cost when a check records a call every few milliseconds)."""
    params = {"model": model, "task": task, "limit": settings.window + settings.baseline}
    with store.engine.connect() as conn:
        found = conn.execute(_window_query(), params)
        rows = [(str(r[0]), float(r[1] or 0.0), float(r[2] or 0.0)) for r in found]
    if len(rows) < settings.window:
        return None
    return WindowStats.of(rows[: settings.window]), rows[settings.window :]


@functools.cache
def _window_query() -> Any:
    """A model's latest calls on a task, newest first (``model``, ``task``, ``limit``)."""
    c = ModelCall
    return (
        select(c.status, c.latency_ms, c.cost_usd)
        # a call that never reached the model (no connection, rate limit) says nothing
        # about how the model answers: not in the window, not in the baseline
        .where(
            c.model == bindparam("model"),
            c.task == bindparam("task"),
            or_(c.reached.is_(None), c.reached.is_(True)),
        )
        .order_by(c.id.desc())
        .limit(bindparam("limit"))
    )


def degraded(store: Any, settings: Any, model: str, task: str) -> list[str]:
    """Stateless: the signals (model, task) crosses right now against the calls before its
    window (what ``/metrics`` exports for every model; no frozen baseline, no incident)."""
    read = read_window(store, settings, model, task)
    if read is None or len(read[1]) < settings.min_baseline:
        return []
    return crossed(read[0], WindowStats.of(read[1]), settings.thresholds)


class AlertMonitor:
    """The open incidents of this process. Thread-safe; ``observe`` is blocking (one read)."""

    def __init__(self) -> None:
        self.active: dict[tuple[str, str], Incident] = {}
        self._lock = threading.Lock()

    def observe(self, store: Any, settings: Any, model: str, task: str) -> AlertEvent | None:
        """Re-evaluate (model, task) after a recorded call; an event when an incident
        opens or clears, else None."""
        if not settings.enabled:
            return None
        read = read_window(store, settings, model, task)
        if read is None:
            return None
        window, older = read
        key = (model, task)
        with self._lock:
            incident = self.active.get(key)
            if incident is not None:
                baseline = incident.baseline
            else:
                if len(older) < settings.min_baseline:
                    return None
                baseline = WindowStats.of(older)
            signals = crossed(window, baseline, settings.thresholds)
            steer_until = time.monotonic() + settings.steer_s
            if signals and incident is None:
                self.active[key] = Incident(
                    model, task, signals, baseline, window, steer_until=steer_until
                )
                return AlertEvent("raised", model, task, tuple(signals), window, baseline)
            if signals and incident is not None:
                incident.window, incident.signals, incident.steer_until = (
                    window,
                    signals,
                    steer_until,
                )
                return None
            if incident is not None:
                del self.active[key]
                return AlertEvent("cleared", model, task, tuple(incident.signals), window, baseline)
            return None

    def avoided(self) -> dict[str, set[str]]:
        """``{task: {model}}`` the router should steer away from right now."""
        now = time.monotonic()
        out: dict[str, set[str]] = {}
        with self._lock:
            for (model, task), incident in self.active.items():
                if incident.steer_until > now:
                    out.setdefault(task, set()).add(model)
        return out

    def incidents(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "model": i.model,
                    "taskType": i.task,
                    "signals": i.signals,
                    "raisedAt": i.raised_at,
                    "window": i.window.as_json(),
                    "baseline": i.baseline.as_json(),
                }
                for i in self.active.values()
            ]


def handle(store: Any, settings: Any, event: AlertEvent) -> threading.Thread | None:
    """What an event does beyond the face and the metrics: the bug pattern, the webhook
    (sent on a daemon thread, returned so a caller may wait for it). Never raises."""
    try:
        if event.kind == "raised":
            bugs.record(store, degradation_report(event))
    except Exception:
        log.exception("could not record the alert for %s", event.model)
    if not settings.webhook_url:
        return None
    thread = threading.Thread(
        target=post_webhook, args=(settings.webhook_url, event), daemon=True, name="kaizen-alert"
    )
    thread.start()
    return thread


def degradation_report(event: AlertEvent) -> bugs.BugReport:
    names = ", ".join(signal_names(list(event.signals)))
    return bugs.BugReport(
        category="model-degradation",
        pattern=f"{event.task} on {event.model}: {names}",
        description=event.text,
        solution=(
            "Kaizen routes to other models while the window is degraded; check the "
            "provider's status, or reset the model's record once it is fixed."
            if event.alternatives != 0
            else "No other model is configured for the task, so nothing routes away: check "
            "the provider's status, or add another model to a layer."
        ),
        severity="high",
        meta={"task": event.task, "model": event.model, "signals": list(event.signals)},
    )


def post_webhook(url: str, event: AlertEvent) -> bool:
    """POST ``{"text": ..., "kaizen": {...}}`` (Slack's incoming-webhook shape)."""
    if not url.startswith(("http://", "https://")):
        log.warning("alerts.webhookUrl must be an http(s) URL; not posting")
        return False
    body = json.dumps({"text": event.text, "kaizen": event.as_json()}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            response.read()
        return True
    except Exception as exc:  # a webhook that is down must not disturb a review
        log.warning("alert webhook failed: %s", exc)
        return False

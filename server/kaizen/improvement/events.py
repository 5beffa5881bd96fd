"""What Services calls as things happen: after every model attempt, every accepted or
dismissed finding, and every run. Each entry point is synchronous (run it on a thread) and
never raises into the caller's run: a broken record is logged, not a failed review."""

from __future__ import annotations

import logging
from typing import Any

from ..core.tasks import detector_of
from . import bugs, heuristics, metrics, performance, router_state

log = logging.getLogger(__name__)


def record_call_and_attempt(store: Any, run_id: int | None, outcome: Any) -> None:
    """A model attempt's ``model_calls`` row and then ``record_attempt``. A successful one
    (nearly every call) writes both in one transaction; if that fails, nothing of it was
    written and each is recorded on its own, as a failed attempt always is."""
    if outcome.ok:
        try:
            store.record_call(
                run_id, outcome, then=lambda s: performance.record_outcome(store, outcome, s)
            )
            return
        except Exception:
            log.warning("could not record a call of %s at once", outcome.target.model)
    try:  # the call's row first: the degradation monitor reads its window from them
        store.record_call(run_id, outcome)
    except Exception:
        log.exception("could not record a call of %s", outcome.target.model)
    record_attempt(store, outcome)


def record_attempt(store: Any, outcome: Any) -> None:
    """A model attempt: model_performance always; a bug pattern (and maybe a learned
    heuristic) when it failed."""
    try:
        performance.record_outcome(store, outcome)
        if (report := bugs.classify_attempt(outcome)) is not None:
            bugs.record(store, report)
            heuristics.learn(store, outcome.task, performance.task_stats(store, outcome.task))
    except Exception:
        log.exception("could not record the attempt of %s", outcome.target.model)


def record_finding_outcome(store: Any, finding: Any, outcome: str) -> None:
    """An accepted / fixed-by-hand or dismissed model finding counts for (or against) the
    model that found it, on the task that found it."""
    task = detector_of(finding.pipeline)
    if getattr(finding, "origin", "model") != "model" or not finding.model or task is None:
        return
    try:
        performance.record_feedback(store, finding.model, task, outcome)
        router_state.credit_finding(store, finding, outcome)  # the contextual policy's
    except Exception:
        log.exception("could not record the outcome of a finding by %s", finding.model)


DROPPED_METRIC = "findings_dropped"


def record_dropped(store: Any, model: str, task: str, counts: dict[str, int]) -> None:
    """Findings of one answer that grounding dropped (``{kind: n}``: ungrounded, echo,
    generic). Each is an invalid answer in the model's record (``invalid``, shown by
    ``kaizen metrics``) and a ``dropped`` finding, which counts against its acceptance
    (the factor the routing policy reads) so a model that points at code that is not there
    loses ground, but is not a dismissal: ``rejected`` counts only what users dismissed;
    the metric keeps the split by kind."""
    total = sum(counts.values())
    if total <= 0:
        return
    try:
        sample = performance.Sample(invalid=total, dropped=total)
        performance.add_sample(store, model, task, sample)
        metrics.record_metric(
            store, DROPPED_METRIC, total, "findings", {"model": model, "task": task, **counts}
        )
    except Exception:
        log.exception("could not record the dropped findings of %s", model)


def record_runs(store: Any) -> None:
    """Failed runs not yet looked at become bug patterns (see ``bugs.sweep_failed_runs``)."""
    try:
        bugs.sweep_failed_runs(store)
    except Exception:
        log.exception("could not record failed runs")

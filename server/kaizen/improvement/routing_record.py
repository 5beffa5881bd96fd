"""The record as the router reads it: active routing rules, ``model_performance`` per task
type, and today's spend. ``Services`` hands ``record_reader(store)`` to the router, so the
router (a layer below) never imports this package."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..models.budget import day_start
from ..models.router import RecordReader, RoutingRecord
from . import experiments, router_state
from .heuristics import active_rules
from .performance import load_stats


def record_reader(store: Any, alerts: Any = None) -> RecordReader:
    """A blocking reader over ``store`` (call it on a worker thread); ``alerts`` (an
    ``alerts.AlertMonitor``) adds the models to steer away from."""

    def read(with_spend: bool) -> RoutingRecord:
        if experiments.running_experiment(store) is not None:
            experiments.experiment_status(store)  # stops it once its test has decided
        return RoutingRecord(
            rules=active_rules(store),
            stats=load_stats(store),
            spent_today_usd=store.spend_since(day_start()) if with_spend else 0.0,
            avoid=alerts.avoided() if alerts is not None else {},
            experiment=experiments.running_experiment(store),
            promoted=experiments.promoted_strategy(store),
        )

    return read


def wire_router(router: Any, store: Any, alerts: Any = None) -> None:
    """Give the router its record: rules, statistics, spend, alerts and experiments to
    read, the contextual learner's state to sync, and the A/B arm assignment."""
    router.read_record = record_reader(store, alerts)
    router.sync_state = partial(router_state.sync, store)
    router.assign_arm = experiments.assign

"""Run statuses and the one table that maps each to the phase a user sees.

Every view (progress messages, the ``kaizen/status`` notification, the runs table, the CLI)
asks ``phase_of`` instead of keeping its own idea of what a status means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .findings import Finding


class RunStatus(str, Enum):
    QUEUED = "queued"
    SCANNING = "scanning"
    DETECTING = "detecting"
    FIXING = "fixing"
    FINDING_OPPORTUNITIES = "finding_opportunities"
    IMPROVING = "improving"
    OPENING_PR = "opening_pr"
    LEARNING = "learning"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STALE = "stale"


PHASES: dict[RunStatus, str] = {
    RunStatus.QUEUED: "scan",
    RunStatus.SCANNING: "scan",
    RunStatus.DETECTING: "detect",
    RunStatus.FIXING: "fix",
    RunStatus.FINDING_OPPORTUNITIES: "opportunities",
    RunStatus.IMPROVING: "improvements",
    RunStatus.OPENING_PR: "pr",
    RunStatus.LEARNING: "learn",
    RunStatus.SUCCEEDED: "done",
    RunStatus.FAILED: "done",
    RunStatus.CANCELLED: "done",
    RunStatus.STALE: "done",
}

FINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.STALE})


def phase_of(status: RunStatus | str) -> str:
    """The phase shown to the user for a status (``scan``, ``detect``, ``fix``, ...)."""
    return PHASES[RunStatus(status)]


@dataclass
class RunTotals:
    """What a run cost: the model that answered, tokens, dollars and time in model calls."""

    provider: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    predicted_cost_usd: float = 0.0  # what models.predict expected for the same calls


@dataclass
class RunResult:
    """What one pipeline run on one document gave: status, findings (shown, suppressed,
    hidden), notices and cost. Kept in core so a face can read and rebuild one (``kaizen
    check``'s result cache) without importing the pipelines."""

    pipeline: str
    run_id: int | None = None
    status: RunStatus = RunStatus.QUEUED
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    notices: list[str] = field(default_factory=list)
    totals: RunTotals = field(default_factory=RunTotals)
    insight_ids: list[int] = field(default_factory=list)
    dropped: int = 0  # findings the model gave that failed validation or grounding
    drops: list[str] = field(default_factory=list)  # why each grounding drop happened
    ignored: list[str] | None = None  # fingerprints shown repeatedly with no reaction
    units_reviewed: int = 0  # review units sent to a model in this run
    units_answered: int = 0  # of those, units a model answered (validly): "reviewed"
    units_cached: int = 0  # review units whose findings came from the cache
    units_skipped: int = 0  # units outside a diff, neither cached nor reviewed
    suppressed: list[Finding] = field(default_factory=list)  # dismissed before: not shown
    hidden: list[Finding] = field(default_factory=list)  # below review.minConfidence

"""Confidence learned from outcomes: how often this kind of finding was worth showing here.

For each key (repository, code, source) — code is the category or rule (``bug``, ``F401``,
``refactor/rename``), source the model that found it or ``ruff`` — the findings table
holds the outcomes: accepted and fixed by hand count for, dismissed and ignored (shown
``IGNORED_AFTER`` times in the editor with no reaction; repeated ``kaizen check`` runs in CI
are not a user ignoring anything) count against. The estimate is a Beta posterior mean in
three levels, so a little local evidence moves it a little:

    global = (for + G / 2) / (n + G)                  every key, every repository
    across = (for' + S * global) / (n' + S)           this code and source, other repositories
    here   = (for_here + S * across) / (n_here + S)   this repository

with ``S = PRIOR_STRENGTH`` and ``G = GLOBAL_STRENGTH`` pseudo-outcomes (the global level
starts at an even 0.5, so one dismissal in a new repository does not demote every other kind
of finding). With no history at all it is 0.5. Nothing is
stored apart from the outcomes themselves: the estimate is computed from the findings table
(one grouped query, the same SQL on SQLite and PostgreSQL), so it survives restarts and is
shared by a team database.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select

from ..core.findings import SEVERITIES, Finding
from .schema import FindingRow, Run
from .store import IGNORED_AFTER

PRIOR_STRENGTH = 4.0
GLOBAL_STRENGTH = 10.0
FOR = ("accepted", "fixed_by_hand")
AGAINST = ("rejected",)


@dataclass
class Tally:
    positive: int = 0
    negative: int = 0

    @property
    def n(self) -> int:
        return self.positive + self.negative

    def add(self, other: Tally) -> None:
        self.positive += other.positive
        self.negative += other.negative


@dataclass
class Record:
    """The outcomes behind every estimate for one repository."""

    here: dict[tuple[str, str], Tally] = field(default_factory=dict)
    elsewhere: dict[tuple[str, str], Tally] = field(default_factory=dict)
    overall: Tally = field(default_factory=Tally)


@dataclass(frozen=True)
class Confidence:
    value: float
    why: str  # "" when there is no history for the key at all
    here: Tally


def key_of(f: Finding) -> tuple[str, str]:
    return (f.code or f.category)[:64], f.model or f.origin


def load(store: Any, repository: str) -> Record:
    """Every outcome in the findings table, grouped by key, split into this repository and
    the others."""
    here = case((FindingRow.repository == repository, 1), else_=0)
    ignored = case(
        (
            and_(
                FindingRow.status == "open",
                FindingRow.times_shown >= IGNORED_AFTER,
                Run.document_version.is_not(None),  # last shown in an editor, not a CLI run
            ),
            1,
        ),
        else_=0,
    )
    code = func.coalesce(FindingRow.code, FindingRow.category)
    source = func.coalesce(FindingRow.model, FindingRow.origin)
    query = (
        select(here, code, source, FindingRow.status, ignored, func.count())
        .outerjoin(Run, Run.id == FindingRow.run_id)
        .where(FindingRow.status.in_((*FOR, *AGAINST, "open")))
        .group_by(here, code, source, FindingRow.status, ignored)
    )
    record = Record()
    with store.readers() as s:
        for local, c, m, status, was_ignored, count in s.execute(query):
            tally = Tally(
                positive=count if status in FOR else 0,
                negative=count if status in AGAINST or was_ignored else 0,
            )
            if not tally.n:
                continue
            book = record.here if local else record.elsewhere
            book.setdefault((c, m), Tally()).add(tally)
            record.overall.add(tally)
    return record


class Outcomes:
    """``load``, remembered per repository while no outcome was written in this process
    and for at most ``fresh_s`` seconds (outcomes other processes record, findings crossing
    the "ignored" count). ``load`` groups the whole findings table: on every save and every
    file of a check it cost more as the table grew (3 ms at 2,600 rows, 100 ms at 100,000),
    for a statistic that moves by one outcome at a time."""

    def __init__(self, store: Any, fresh_s: float = 30.0) -> None:
        self.store = store
        self.fresh_s = fresh_s
        self._known: dict[str, tuple[int, float, Record]] = {}

    def record(self, repository: str) -> Record:
        generation = getattr(self.store, "outcome_generation", 0)
        now = time.monotonic()
        hit = self._known.get(repository)
        if hit is not None and hit[0] == generation and now - hit[1] < self.fresh_s:
            return hit[2]
        record = load(self.store, repository)
        self._known[repository] = (generation, now, record)
        return record


def estimate(record: Record, key: tuple[str, str]) -> Confidence:
    total = record.overall
    overall = (total.positive + GLOBAL_STRENGTH / 2) / (total.n + GLOBAL_STRENGTH)
    other = record.elsewhere.get(key, Tally())
    across = (other.positive + PRIOR_STRENGTH * overall) / (other.n + PRIOR_STRENGTH)
    here = record.here.get(key, Tally())
    value = (here.positive + PRIOR_STRENGTH * across) / (here.n + PRIOR_STRENGTH)
    if here.n:
        why = f"accepted {here.positive} of {here.n} times here"
    elif other.n:
        why = f"accepted {other.positive} of {other.n} times in other repositories"
    else:
        why = ""
    return Confidence(value, why, here)


def demoted(severity: str) -> str:
    """One step down: error -> warning -> info -> hint (hint stays)."""
    i = SEVERITIES.index(severity) if severity in SEVERITIES else 1
    return SEVERITIES[min(i + 1, len(SEVERITIES) - 1)]


def weigh(
    findings: Iterable[Finding], record: Record, min_confidence: float, demote_below: float
) -> tuple[list[Finding], list[Finding]]:
    """Give each finding its confidence; returns (shown, hidden): hidden below
    ``min_confidence``, shown one severity step lower below ``demote_below``."""
    shown: list[Finding] = []
    hidden: list[Finding] = []
    for f in findings:
        c = estimate(record, key_of(f))
        f.confidence, f.confidence_why = round(c.value, 3), c.why
        if c.value < min_confidence:
            hidden.append(f)
            continue
        if c.value < demote_below:
            f.severity = demoted(f.severity)  # type: ignore[assignment]
        shown.append(f)
    return shown, hidden


def low_confidence(
    store: Any, repository: str | None, min_confidence: float, demote_below: float
) -> list[dict[str, Any]]:
    """The keys whose findings are hidden or demoted (for ``kaizen learnings``), lowest
    first; every repository when ``repository`` is None."""
    repositories = [repository] if repository else _repositories(store)
    out = []
    for repo in repositories:
        record = load(store, repo)
        for key in record.here:
            c = estimate(record, key)
            if c.value >= demote_below:
                continue
            out.append(
                {
                    "repository": repo,
                    "code": key[0],
                    "source": key[1],
                    "confidence": round(c.value, 3),
                    "accepted": c.here.positive,
                    "outcomes": c.here.n,
                    "effect": "hidden" if c.value < min_confidence else "demoted",
                    "why": c.why,
                }
            )
    return sorted(out, key=lambda row: row["confidence"])


def _repositories(store: Any) -> list[str]:
    with store.readers() as s:
        return sorted(set(s.scalars(select(FindingRow.repository).distinct())))

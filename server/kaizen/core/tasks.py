"""The one table of model tasks: which pipeline asks each, the router's default layer for it,
and the run status while its answer is awaited.

Every other view derives from ``TASKS``: the router's layer and explicit-choice lookup, the run
frame's status, the record's "which task does a finding's outcome speak for", and the status
command's "which model would answer this pipeline". Add a task here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from .answers import FixReport, Improvement, IssueReport, OpportunityReport
from .runs import RunStatus


@dataclass(frozen=True)
class Task:
    name: str
    pipeline: str  # autofix | refactor: whose explicit model choice applies
    layer: str  # fast | balanced | deep: the router's default layer
    status: RunStatus  # the run's status while this task's answer is awaited
    answer: type[BaseModel]  # what the model must return (validated)
    detector: bool = False  # its findings are what users accept or dismiss
    # a changed long definition may be re-reviewed in a window around its changed lines
    # (defects are local; a refactor opportunity is about the whole definition)
    windowed: bool = False


TASKS: dict[str, Task] = {
    t.name: t
    for t in (Task(
            "issue_detector",
            "autofix",
            "balanced",
            RunStatus.DETECTING,
            IssueReport,
            detector=True,
            windowed=True,
        ),
        Task("fix_generator", "autofix", "balanced", RunStatus.FIXING, FixReport),
        Task(
            "opportunity_detector",
            "refactor",
            "balanced",
            RunStatus.FINDING_OPPORTUNITIES,
            OpportunityReport,
            detector=True,
        ),
        Task(
            "improvement_generator", "refactor", "deep", RunStatus.IMPROVING, Improvement
        ),
    )
}

PIPELINE_NAMES: tuple[str, ...] = tuple(dict.fromkeys(t.pipeline for t in TASKS.values()))


def task(name: str) -> Task:
    """The task's row; an unknown name is treated like an issue-detector call."""
    return TASKS.get(name) or Task(name, "autofix", "balanced", RunStatus.DETECTING, IssueReport)


def detector_of(pipeline: str) -> str | None:
    """The task whose findings a pipeline shows (the one outcomes speak for), or None."""
    for t in TASKS.values():
        if t.pipeline == pipeline and t.detector:
            return t.name
    return None

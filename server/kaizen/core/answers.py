"""The typed answers of the four model tasks: what a model must return, validated by pydantic.

Everything a model returns is untrusted; these schemas are the first check (types, bounds,
known categories). They live in ``core`` because the task table names them and the record
(bug patterns, regression tests) reasons about them too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

SHAPE_LIMIT = 4000  # characters of an answer's shape kept with a bug pattern (an example)

CATEGORIES = (
    "bug",
    "security",
    "performance",
    "error-handling",
    "concurrency",
    "correctness",
    "resource-leak",
    "api-misuse",
)


class IssueItem(BaseModel):
    line: int
    end_line: int | None = None
    severity: Literal["error", "warning", "info"] = "warning"
    category: str = Field(default="bug", json_schema_extra={"enum": list(CATEGORIES)})
    message: str = Field(min_length=1, max_length=2000)
    rationale: str = Field(default="", max_length=4000)
    # The code the finding is about, quoted: required, so every finding can be grounded
    # (pipelines.grounding checks it is really at those lines).
    snippet: str = Field(max_length=2000)
    # the id of the team rule (rules/: instruction files) this finding enforces, if any
    rule: str | None = Field(default=None, max_length=200)

    @field_validator("category", mode="before")
    @classmethod
    def _known_category(cls, value: object) -> str:
        """The schema lists the categories; a model that invents one gets ``bug``, not a
        rejected answer."""
        text = str(value or "").strip().lower()
        return text if text in CATEGORIES else "bug"


class IssueReport(BaseModel):
    issues: list[IssueItem]


class FixItem(BaseModel):
    issue: int
    start_line: int
    end_line: int
    replacement: str = Field(max_length=20_000)
    explanation: str = Field(default="", max_length=2000)
    # An empty replacement of code deletes it. Models answer "" by mistake too, so a
    # deletion is offered only when it says so here (pipelines.verify); it is then titled
    # "Delete ..." in the editor.
    delete: bool = False


class FixReport(BaseModel):
    fixes: list[FixItem]


class OpportunityItem(BaseModel):
    line: int
    end_line: int | None = None
    kind: str = Field(default="other", max_length=64)
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(default="", max_length=2000)
    rationale: str = Field(default="", max_length=4000)
    impact: Literal["low", "medium", "high"] = "medium"
    snippet: str = Field(max_length=2000)  # the code it is about, grounded like an issue's
    rule: str | None = Field(default=None, max_length=200)  # the team rule it follows


class OpportunityReport(BaseModel):
    opportunities: list[OpportunityItem]


class Improvement(BaseModel):
    start_line: int
    end_line: int
    replacement: str = Field(max_length=50_000)
    summary: str = Field(default="", max_length=500)
    rationale: str = Field(default="", max_length=4000)
    delete: bool = False  # the improvement removes the lines (dead code): see FixItem

"""The four prompts, as Markdown templates, and their typed answers.

Templates use ``string.Template`` (``$name``) so braces and dollar signs inside the user's
code are never interpreted: values are substituted, never re-parsed.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from string import Template
from typing import Literal

from pydantic import BaseModel, Field, field_validator

PROMPTS = ("issue_detector", "fix_generator", "opportunity_detector", "improvement_generator")


@cache
def template(name: str) -> Template:
    return Template(files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    return template(name).safe_substitute({k: str(v) for k, v in values.items()})


MAX_LINE_CHARS = 1000


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]} … [{len(line) - MAX_LINE_CHARS} more characters]"


def numbered(lines: list[str]) -> str:
    """The code with 1-based line numbers, the coordinates every answer refers to.

    Very long lines (minified code, embedded data) are clipped so one line cannot eat the
    context window; the numbering stays exact.
    """
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {_clip(line)}" for i, line in enumerate(lines, 1))


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
    snippet: str | None = Field(default=None, max_length=2000)

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


class OpportunityReport(BaseModel):
    opportunities: list[OpportunityItem]


class Improvement(BaseModel):
    start_line: int
    end_line: int
    replacement: str = Field(max_length=50_000)
    summary: str = Field(default="", max_length=500)
    rationale: str = Field(default="", max_length=4000)


ANSWERS: dict[str, type[BaseModel]] = {
    "issue_detector": IssueReport,
    "fix_generator": FixReport,
    "opportunity_detector": OpportunityReport,
    "improvement_generator": Improvement,
}

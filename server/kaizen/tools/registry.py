"""The tools agents and scripts call, as one table: name -> input model, description, function.

The MCP server (``kaizen mcp``) and the HTTP API (``kaizen serve-http``) both read this
table, so a tool has one JSON schema (generated from its pydantic input model), one
validation and one implementation: the functions of ``tools.records`` that the LSP commands
and the CLI call, plus ``memory.catalog.search_learnings``. Input here is stricter than in the
editor: unknown fields are refused (a misspelt optional field must not be silently
ignored), types are not coerced for JSON, and every value must be storable in SQLite and
PostgreSQL alike (integer fields within 64 bits, finite numbers, valid Unicode without NUL),
so bad input is refused before anything is written.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from . import records
from .records import ToolError

# camelCase names only (the schema's names), unknown fields refused, no NaN or infinity
STRICT = ConfigDict(populate_by_name=False, extra="forbid", allow_inf_nan=False)
MAX_DEPTH = 32
INT64 = (-(2**63), 2**63 - 1)


class Input(BaseModel):
    """Base of the inputs that are not a ``records`` model as is."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel),
        populate_by_name=False,
        extra="forbid",
        allow_inf_nan=False,
    )


class Context:
    """What tool calls run against: one open store and the settings (daily budget,
    embedding model). One per process, shared by the threads that serve requests."""

    def __init__(self, store: Any, settings: Any) -> None:
        self.store = store
        self.settings = settings
        self._embedder: Any = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, database: str | None = None, root: Path | None = None) -> Context:
        """Settings as the CLI reads them (kaizen.toml, env, ``--database``), store opened."""
        from ..config import load_settings
        from ..memory.store import Store

        editor = {"databasePath": database} if database else {}
        settings, _ = load_settings(root or Path.cwd(), editor)
        return cls(Store.open(settings.database_path), settings)

    def embedder(self) -> Any:
        """The learnings embedder, made (and its index ensured) on first use only."""
        with self._lock:
            if self._embedder is None:
                from ..memory.loop import LearningLoop

                self._embedder = LearningLoop(self.store, self.settings).embedder
            return self._embedder

    def close(self) -> None:
        self.store.close()


def check_value(value: Any, path: str = "", depth: int = 0) -> None:
    """Refuse what the database cannot store the same way everywhere (see the module doc)."""
    where = path or "argument"
    if depth > MAX_DEPTH:
        raise ToolError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ToolError(f"{where}: number must be finite")
    elif isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_text(str(key), f"{where} key")
            check_value(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]", depth + 1)


def _integer(prop: Mapping[str, Any]) -> bool:
    return prop.get("type") == "integer" or any(_integer(b) for b in prop.get("anyOf", []))


def integers(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Integer fields as JSON Schema reads them: ``3.0`` is the integer 3; and within the
    64-bit range every database column holds."""
    out = dict(arguments)
    for name, prop in schema.get("properties", {}).items():
        value = out.get(name)
        if not _integer(prop) or isinstance(value, bool):
            continue
        if isinstance(value, float) and value.is_integer():
            out[name] = value = int(value)
        if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            raise ToolError(f"{name}: integer out of the 64-bit range")
    return out


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise ToolError(f"{where}: text must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolError(f"{where}: text is not valid Unicode (lone surrogate)") from None


def problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "argument"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def as_json(result: Any) -> Any:
    """Plain JSON (dates as strings), exactly as ``kaizen ... --format json`` prints it."""
    return json.loads(json.dumps(result, default=str))


@dataclass(frozen=True)
class Tool:
    name: str
    input: type[BaseModel]
    description: str
    run: Callable[[Context, Any], dict[str, Any]]
    read_only: bool = False
    params: Mapping[str, str] = field(default_factory=dict)  # field -> description

    @cached_property
    def schema(self) -> dict[str, Any]:
        """The JSON schema of the input: camelCase names, each described, no noise titles."""
        schema = self.input.model_json_schema(by_alias=True, mode="validation")
        schema["title"] = self.name
        for name, prop in schema.get("properties", {}).items():
            prop.pop("title", None)
            for branch in [prop, *prop.get("anyOf", [])]:
                if branch.get("type") == "integer":  # what every database column holds
                    branch.setdefault("minimum", INT64[0])
                    branch.setdefault("maximum", INT64[1])
            if name in self.params:
                prop["description"] = self.params[name]
        return schema

    def validate(self, arguments: Any, *, strict: bool = True) -> BaseModel:
        """Checked arguments, or ``ToolError`` naming each bad field. ``strict=False`` lets
        strings stand for numbers and booleans (query strings have no other type)."""
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise ToolError(f"arguments of {self.name} must be a JSON object")
        check_value(arguments)
        arguments = integers(arguments, self.schema)
        try:
            return self.input.model_validate(arguments, strict=strict)
        except ValidationError as exc:
            raise ToolError(problems(exc)) from None

    def call(self, ctx: Context, arguments: Any, *, strict: bool = True) -> dict[str, Any]:
        args = self.validate(arguments, strict=strict)
        return as_json(self.run(ctx, args))


# inputs ----------------------------------------------------------------------------------


class AnalyzeMetricsInput(Input):
    task_type: str | None = Field(default=None, min_length=1, max_length=64)
    include_report: bool = False
    recent: int = Field(default=10, ge=0, le=500)


def _analyze_metrics(ctx: Context, a: AnalyzeMetricsInput) -> dict[str, Any]:
    report = records.analyze_metrics(
        ctx.store,
        {
            "taskType": a.task_type,
            "recent": a.recent,
            "dailyBudgetUsd": ctx.settings.budget.daily_usd,
        },
    )
    if a.include_report:
        from ..improvement.report import render_text

        report["report"] = render_text(report)
    return report


class RoutingHeuristicsInput(Input):
    active_only: bool = False


def _get_routing_heuristics(ctx: Context, a: RoutingHeuristicsInput) -> dict[str, Any]:
    return records.get_routing_heuristics(ctx.store, {"includeInactive": not a.active_only})


class UpdateRoutingHeuristicInput(records.UpdateHeuristicArgs):
    model_config = STRICT


class BugPatternsInput(records.BugPatternsArgs):
    model_config = STRICT


class RecordBugPatternInput(records.RecordBugArgs):
    model_config = STRICT


class RegressionTestsInput(records.RegressionTestsArgs):
    model_config = STRICT


class GenerateRegressionTestInput(records.GenerateTestArgs):
    model_config = STRICT


class RecordMetricInput(records.MetricArgs):
    model_config = STRICT


class ModelPerformanceInput(records.ModelPerformanceArgs):
    model_config = STRICT


class SearchLearningsInput(Input):
    query: str = Field(min_length=1, max_length=2000)
    repository: str | None = Field(default=None, max_length=512)
    language: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=10, ge=1, le=100)


def _search_learnings(ctx: Context, a: SearchLearningsInput) -> dict[str, Any]:
    from ..memory.catalog import search_learnings

    rows = search_learnings(
        ctx.store,
        ctx.embedder(),
        a.query,
        repository=a.repository,
        language=a.language,
        limit=a.limit,
    )
    return {"learnings": rows}


def _op(function: Callable[[Any, Any], dict[str, Any]]) -> Callable[[Context, Any], dict]:
    """A ``records`` operation as a tool function (it takes the validated model as is)."""

    def run(ctx: Context, args: Any) -> dict[str, Any]:
        return function(ctx.store, args)

    return run


_TOOLS = [
    Tool(
        "analyze_metrics",
        AnalyzeMetricsInput,
        "The self-improvement report (what `kaizen metrics` shows): per task type the models "
        "in the router's order of preference with success rate, acceptance, latency, cost "
        "and calls; counts of bug patterns, regression tests and routing heuristics; recent "
        "bugs; today's spend; recorded metrics.",
        _analyze_metrics,
        read_only=True,
        params={
            "taskType": "only this task type (e.g. issue_detector, fix_generator)",
            "includeReport": "also return the report as text, as `kaizen metrics` prints it",
            "recent": "how many recent bug patterns to list",
        },
    ),
    Tool(
        "get_regression_tests",
        RegressionTestsInput,
        "The regression tests Kaizen generated from its bug patterns (pytest code included).",
        _op(records.get_regression_tests),
        read_only=True,
        params={
            "category": "only tests of this bug category",
            "includeCode": "include each test's source code",
        },
    ),
    Tool(
        "generate_regression_test",
        GenerateRegressionTestInput,
        "Turn a bug pattern into a stored regression test; with all: true, every bug pattern "
        "that has a recipe and no test yet.",
        _op(records.generate_regression_test),
        params={
            "bugPatternId": "the bug pattern to make a test for",
            "all": "make a test for every untested bug pattern instead",
        },
    ),
    Tool(
        "get_routing_heuristics",
        RoutingHeuristicsInput,
        "The routing rules: a regular expression over the task and file, and the model or "
        "layer (fast, balanced, deep) it sends matching work to.",
        _get_routing_heuristics,
        read_only=True,
        params={"activeOnly": "only the rules that are switched on"},
    ),
    Tool(
        "update_routing_heuristic",
        UpdateRoutingHeuristicInput,
        "Create a routing rule (no id), change fields of one (id), or delete it (id and "
        "delete: true). Running editors pick the change up within seconds.",
        _op(records.update_routing_heuristic),
        params={
            "id": "the rule to change or delete; omit to create a rule",
            "pattern": "regular expression matched against the task and file",
            "preferredLayer": "send matching work to this layer",
            "preferredModel": "send matching work to this model (e.g. openai/gpt-4o-mini)",
            "priority": "higher priorities are tried first",
            "active": "switch the rule on or off",
            "metadata": "free-form notes kept with the rule (e.g. why)",
            "clear": "fields to unset on an existing rule",
            "delete": "delete the rule given by id",
        },
    ),
    Tool(
        "get_bug_patterns",
        BugPatternsInput,
        "Bug patterns Kaizen has recorded (failed runs, invalid model answers, reported bugs).",
        _op(records.get_bug_patterns),
        read_only=True,
        params={
            "category": "only this category",
            "limit": "at most this many",
            "order": "most recent first, or most occurrences first",
        },
    ),
    Tool(
        "record_bug_pattern",
        RecordBugPatternInput,
        "Record one occurrence of a bug; the same category and pattern again counts another "
        "occurrence of the same bug pattern.",
        _op(records.record_bug_pattern),
        params={
            "category": "a short category (e.g. invalid_json, crash)",
            "pattern": "what identifies the bug",
            "description": "what went wrong",
            "solution": "how it was or should be fixed",
            "severity": "how bad it is",
            "example": "a small input that shows the bug (used to generate a test)",
            "metadata": "free-form details",
        },
    ),
    Tool(
        "record_metric",
        RecordMetricInput,
        "Record one value of a named metric (e.g. a benchmark timing) for the report.",
        _op(records.record_metric),
        params={
            "name": "the metric's name",
            "value": "the measured value",
            "unit": "its unit (e.g. ms, %)",
            "context": "free-form details of the measurement",
        },
    ),
    Tool(
        "update_model_performance",
        ModelPerformanceInput,
        "Add an observation of a model on a task type to the record the router learns from "
        "(totals over `calls`), or reset the model's record first so it is measured afresh.",
        _op(records.update_model_performance),
        params={
            "model": "the model (e.g. openai/gpt-4o-mini)",
            "taskType": "the task type (e.g. issue_detector)",
            "calls": "how many calls this observation covers",
            "successes": "how many succeeded (default: calls - invalid - errors)",
            "invalid": "answers that failed validation",
            "errors": "calls that failed",
            "accepted": "findings the user accepted",
            "rejected": "findings the user rejected",
            "latencyMs": "total latency over the calls, in milliseconds",
            "costUsd": "total cost over the calls, in US dollars",
            "reset": "forget this model's record for the task type first",
        },
    ),
    Tool(
        "search_learnings",
        SearchLearningsInput,
        "Search what Kaizen has learned (findings fixed, accepted, rejected) with the same "
        "hybrid keyword and vector search the review prompts use.",
        _search_learnings,
        read_only=True,
        params={
            "query": "what to look for, in words or code",
            "repository": "only learnings from this repository (e.g. acme/widgets)",
            "language": "only learnings about this language (e.g. python)",
            "limit": "at most this many",
        },
    ),
]

TOOLS: dict[str, Tool] = {tool.name: tool for tool in _TOOLS}


def get(name: str) -> Tool:
    try:
        return TOOLS[name]
    except KeyError:
        raise ToolError(f"unknown tool {name!r}; the tools are: {', '.join(TOOLS)}") from None

"""The self-improvement record as operations: one JSON object in, one JSON object out.

Each operation is a plain function over a ``memory.store.Store`` and validated arguments
(camelCase or snake_case keys). ``OPERATIONS`` names them the way every face exposes them:
the LSP commands are ``kaizen.<name>``, the CLI prints ``analyzeMetrics``, and an MCP or
HTTP face can list the same table. Bad arguments raise ``ToolError`` with a message fit
for the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from ..improvement import bugs, heuristics, metrics, performance, regression, report


class ToolError(ValueError):
    """A bad call: wrong arguments or a reference to something that does not exist."""


class Args(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel),
        populate_by_name=True,
        extra="ignore",
    )


def parse(model: type[Args], data: dict[str, Any] | Args | None) -> Any:
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'argument'}: {e['msg']}" for e in exc.errors()
        )
        raise ToolError(problems) from None


# analyzeMetrics --------------------------------------------------------------------------


class AnalyzeArgs(Args):
    task_type: str | None = None
    recent: int = Field(default=10, ge=0, le=500)
    daily_budget_usd: float | None = None


def analyze_metrics(store: Any, args: dict[str, Any] | AnalyzeArgs | None = None) -> dict:
    a: AnalyzeArgs = parse(AnalyzeArgs, args)
    return report.analyze(store, a.task_type, a.recent, a.daily_budget_usd)


# routing heuristics ----------------------------------------------------------------------


class HeuristicsArgs(Args):
    include_inactive: bool = True


def get_routing_heuristics(store: Any, args: dict[str, Any] | None = None) -> dict:
    a: HeuristicsArgs = parse(HeuristicsArgs, args)
    return {"heuristics": heuristics.list_rules(store, a.include_inactive)}


class UpdateHeuristicArgs(Args):
    id: int | None = None
    pattern: str | None = Field(default=None, min_length=1, max_length=2000)
    preferred_layer: Literal["fast", "balanced", "deep"] | None = None
    preferred_model: str | None = Field(default=None, min_length=1, max_length=128)
    priority: int | None = None
    active: bool | None = None
    metadata: dict[str, Any] | None = None
    clear: list[Literal["preferredLayer", "preferredModel"]] = Field(default_factory=list)
    delete: bool = False


def update_routing_heuristic(store: Any, args: dict[str, Any] | None = None) -> dict:
    """Create a rule (no ``id``), change fields of one, or ``delete`` it."""
    a: UpdateHeuristicArgs = parse(UpdateHeuristicArgs, args)
    if a.delete:
        if a.id is None or not heuristics.delete_rule(store, a.id):
            raise ToolError(f"no routing rule with id {a.id}")
        return {"deleted": a.id}
    try:
        rule = heuristics.upsert_rule(
            store,
            rule_id=a.id,
            pattern=a.pattern,
            preferred_layer=a.preferred_layer,
            preferred_model=a.preferred_model,
            priority=a.priority,
            active=a.active,
            metadata=a.metadata,
            clear=tuple(a.clear),
        )
    except heuristics.RuleError as exc:
        raise ToolError(str(exc)) from None
    return {"heuristic": rule}


# bug patterns ----------------------------------------------------------------------------


class BugPatternsArgs(Args):
    category: str | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    order: Literal["recent", "occurrences"] = "recent"


def get_bug_patterns(store: Any, args: dict[str, Any] | None = None) -> dict:
    a: BugPatternsArgs = parse(BugPatternsArgs, args)
    bugs.sweep_failed_runs(store)
    return {"bugPatterns": bugs.list_patterns(store, a.category, a.limit, a.order)}


class RecordBugArgs(Args):
    category: str = Field(min_length=1, max_length=64)
    pattern: str = Field(min_length=1, max_length=4000)
    description: str = ""
    solution: str = ""
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    example: str | None = Field(default=None, max_length=bugs.SHAPE_LIMIT)
    metadata: dict[str, Any] = Field(default_factory=dict)


def record_bug_pattern(store: Any, args: dict[str, Any] | None = None) -> dict:
    """One occurrence of a bug (the same category + pattern counts another occurrence)."""
    a: RecordBugArgs = parse(RecordBugArgs, args)
    row = bugs.record(
        store,
        bugs.BugReport(
            category=a.category,
            pattern=a.pattern,
            description=a.description,
            solution=a.solution,
            severity=a.severity,
            example=a.example,
            meta={"source": "reported", **a.metadata},
        ),
    )
    return {"bugPattern": row}


# regression tests ------------------------------------------------------------------------


class RegressionTestsArgs(Args):
    category: str | None = None
    include_code: bool = True


def get_regression_tests(store: Any, args: dict[str, Any] | None = None) -> dict:
    a: RegressionTestsArgs = parse(RegressionTestsArgs, args)
    return {"regressionTests": regression.list_tests(store, a.category, a.include_code)}


class GenerateTestArgs(Args):
    bug_pattern_id: int | None = None
    all: bool = False  # every bug pattern that has a recipe and no test yet


def generate_regression_test(store: Any, args: dict[str, Any] | None = None) -> dict:
    """Turn one bug pattern (or, with ``all``, every untested one) into a stored test."""
    a: GenerateTestArgs = parse(GenerateTestArgs, args)
    if a.bug_pattern_id is None and not a.all:
        raise ToolError("give bugPatternId, or all: true")
    if a.bug_pattern_id is not None:
        bug = bugs.get_pattern(store, a.bug_pattern_id)
        if bug is None:
            raise ToolError(f"no bug pattern with id {a.bug_pattern_id}")
        try:
            test = regression.generate(bug)
        except regression.NoRecipe as exc:
            raise ToolError(str(exc)) from None
        return {"regressionTests": [regression.save(store, test)], "skipped": []}
    done = regression.tested_patterns(store)
    made, skipped = [], []
    for bug in bugs.list_patterns(store, limit=10_000, order="occurrences"):
        if bug["id"] in done:
            continue
        try:
            made.append(regression.save(store, regression.generate(bug)))
        except regression.NoRecipe as exc:
            skipped.append({"bugPatternId": bug["id"], "reason": str(exc)})
    return {"regressionTests": made, "skipped": skipped}


# metrics and model performance -----------------------------------------------------------


class MetricArgs(Args):
    name: str = Field(min_length=1, max_length=128)
    value: float
    unit: str = Field(default="", max_length=32)
    context: dict[str, Any] = Field(default_factory=dict)


def record_metric(store: Any, args: dict[str, Any] | None = None) -> dict:
    a: MetricArgs = parse(MetricArgs, args)
    return {"metric": metrics.record_metric(store, a.name, a.value, a.unit, a.context)}


class ModelPerformanceArgs(Args):
    model: str = Field(min_length=1, max_length=128)
    task_type: str = Field(min_length=1, max_length=32)
    calls: int = Field(default=1, ge=0)
    successes: float | None = Field(default=None, ge=0)  # default: every call succeeded
    invalid: int = Field(default=0, ge=0)
    errors: int = Field(default=0, ge=0)
    accepted: int = Field(default=0, ge=0)
    rejected: int = Field(default=0, ge=0)
    latency_ms: float = Field(default=0.0, ge=0)  # total over the calls
    cost_usd: float = Field(default=0.0, ge=0)  # total over the calls
    reset: bool = False  # forget this model's record for the task type first


def update_model_performance(store: Any, args: dict[str, Any] | None = None) -> dict:
    """Add an observation from outside (an evaluation, another tool) to the record the
    router learns from, or ``reset`` a model so it is measured afresh."""
    a: ModelPerformanceArgs = parse(ModelPerformanceArgs, args)
    successes = float(a.calls - a.invalid - a.errors) if a.successes is None else a.successes
    if successes > a.calls or successes < 0:
        raise ToolError("successes must be between 0 and calls")
    removed = performance.reset(store, a.model, a.task_type) if a.reset else 0
    sample = performance.Sample(
        calls=a.calls,
        successes=successes,
        accepted=a.accepted,
        rejected=a.rejected,
        invalid=a.invalid,
        errors=a.errors,
        latency_ms=a.latency_ms,
        cost_usd=a.cost_usd,
    )
    if sample != performance.Sample():
        performance.add_sample(store, a.model, a.task_type, sample)
    rows = [r for r in performance.rows(store, a.task_type) if r["model"] == a.model]
    return {"modelPerformance": rows[0] if rows else None, "reset": bool(removed)}


@dataclass(frozen=True)
class Operation:
    function: Callable[[Any, dict[str, Any] | None], dict]
    changes_routing: bool = False  # the router's snapshot must be re-read after it


OPERATIONS: dict[str, Operation] = {
    "analyzeMetrics": Operation(analyze_metrics),
    "getRoutingHeuristics": Operation(get_routing_heuristics),
    "updateRoutingHeuristic": Operation(update_routing_heuristic, changes_routing=True),
    "getBugPatterns": Operation(get_bug_patterns),
    "recordBugPattern": Operation(record_bug_pattern),
    "getRegressionTests": Operation(get_regression_tests),
    "generateRegressionTest": Operation(generate_regression_test),
    "recordMetric": Operation(record_metric),
    "updateModelPerformance": Operation(update_model_performance, changes_routing=True),
}

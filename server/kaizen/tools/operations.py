"""The operations behind every face, each a plain function over a ``memory.store.Store``:
one JSON object in (its input model below), one JSON object out.

The ``improvement`` modules are imported inside the operations: they pull in SQLAlchemy,
and the language server registers these tools before it answers ``initialize``.

The input models are the tools' only schemas. Faces read them two ways (``parse``):
``strict`` for agents and scripts (MCP, HTTP POST: camelCase names only, unknown fields
refused, no type coercion), ``query`` for HTTP query strings (strings may stand for numbers
and booleans), and ``editor`` for LSP commands and the CLI (camelCase or snake_case,
unknown fields ignored, types coerced), so a misspelt optional field is refused where a
program wrote it and tolerated where a person typed it. ``tools.table.TOOLS`` names each
operation for every face. Bad arguments raise ``ToolError`` with a message fit for the
user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

from ..core.answers import SHAPE_LIMIT
from ..core.errors import validation_message

Mode = Literal["strict", "query", "editor"]


class ToolError(ValueError):
    """A bad call: wrong arguments or a reference to something that does not exist."""


class Input(BaseModel):
    """Base of every tool input: camelCase names, unknown fields refused, finite numbers."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel),
        populate_by_name=False,
        extra="forbid",
        allow_inf_nan=False,
        defer_build=True,  # validators built on a tool's first call, not at start-up
    )


def _editor_keys(model: type[Input], data: Mapping[str, Any]) -> dict[str, Any]:
    """camelCase or snake_case keys to the model's camelCase names; unknown keys dropped."""
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else to_camel(name)
        names[name] = names[alias] = alias
    return {names[k]: v for k, v in data.items() if k in names}


def parse(model: type[Input], data: Mapping[str, Any] | Input | None, mode: Mode = "editor") -> Any:
    """Validated arguments for an operation, read the way ``mode`` says (module doc)."""
    if isinstance(data, model):
        return data
    data = dict(data or {})
    if mode == "editor":
        data = _editor_keys(model, data)
    try:
        return model.model_validate(data, strict=mode == "strict")
    except ValidationError as exc:
        raise ToolError(validation_message(exc)) from None


# analyzeMetrics --------------------------------------------------------------------------


class AnalyzeMetricsInput(Input):
    task_type: str | None = Field(default=None, min_length=1, max_length=64)
    include_report: bool = False
    recent: int = Field(default=10, ge=0, le=500)


def analyze_metrics(
    store: Any, args: Any = None, settings: Any = None, root: Any = None
) -> dict:
    """The self-improvement report; today's spend against ``settings``' daily budget; the
    review rules of the repository at ``root`` (default: the current directory) by source."""
    from ..improvement import report

    a: AnalyzeMetricsInput = parse(AnalyzeMetricsInput, args)
    budget = settings.budget.daily_usd if settings is not None else None
    out = report.analyze(store, a.task_type, a.recent, budget)
    out["rules"] = _rules_metrics(store, root)
    if a.include_report:
        out["report"] = report.render_text(out)
    return out


def _rules_metrics(store: Any, root: Any) -> dict[str, Any] | None:
    """Rules by source (``rules.metrics``); None when they cannot be read (said in the log)."""
    import logging
    from pathlib import Path

    from ..rules.metrics import for_repository

    try:
        return for_repository(store, Path(root or Path.cwd()))
    except Exception:
        logging.getLogger(__name__).exception("could not report the review rules")
        return None


# routing heuristics ----------------------------------------------------------------------


class RoutingHeuristicsInput(Input):
    active_only: bool = False
    # the editor's older name for the same switch (inverted); not in the published schema
    include_inactive: SkipJsonSchema[bool | None] = None


def get_routing_heuristics(store: Any, args: Any = None, settings: Any = None) -> dict:
    from ..improvement import heuristics

    a: RoutingHeuristicsInput = parse(RoutingHeuristicsInput, args)
    include_inactive = not a.active_only if a.include_inactive is None else a.include_inactive
    return {"heuristics": heuristics.list_rules(store, include_inactive)}


class UpdateRoutingHeuristicInput(Input):
    id: int | None = None
    pattern: str | None = Field(default=None, min_length=1, max_length=2000)
    preferred_layer: Literal["fast", "balanced", "deep"] | None = None
    preferred_model: str | None = Field(default=None, min_length=1, max_length=128)
    priority: int | None = None
    active: bool | None = None
    metadata: dict[str, Any] | None = None
    clear: list[Literal["preferredLayer", "preferredModel"]] = Field(default_factory=list)
    delete: bool = False


def update_routing_heuristic(store: Any, args: Any = None, settings: Any = None) -> dict:
    """Create a rule (no ``id``), change fields of one, or ``delete`` it."""
    from ..improvement import heuristics

    a: UpdateRoutingHeuristicInput = parse(UpdateRoutingHeuristicInput, args)
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


class BugPatternsInput(Input):
    category: str | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    order: Literal["recent", "occurrences"] = "recent"


def get_bug_patterns(store: Any, args: Any = None, settings: Any = None) -> dict:
    from ..improvement import bugs

    a: BugPatternsInput = parse(BugPatternsInput, args)
    bugs.sweep_failed_runs(store)
    return {"bugPatterns": bugs.list_patterns(store, a.category, a.limit, a.order)}


class RecordBugPatternInput(Input):
    category: str = Field(min_length=1, max_length=64)
    pattern: str = Field(min_length=1, max_length=4000)
    description: str = ""
    solution: str = ""
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    example: str | None = Field(default=None, max_length=SHAPE_LIMIT)
    metadata: dict[str, Any] = Field(default_factory=dict)


def record_bug_pattern(store: Any, args: Any = None, settings: Any = None) -> dict:
    """One occurrence of a bug (the same category + pattern counts another occurrence)."""
    from ..improvement import bugs

    a: RecordBugPatternInput = parse(RecordBugPatternInput, args)
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


class RegressionTestsInput(Input):
    category: str | None = None
    include_code: bool = True


def get_regression_tests(store: Any, args: Any = None, settings: Any = None) -> dict:
    from ..improvement import regression

    a: RegressionTestsInput = parse(RegressionTestsInput, args)
    return {"regressionTests": regression.list_tests(store, a.category, a.include_code)}


class RunRegressionTestsInput(Input):
    category: str | None = Field(default=None, max_length=64)


def run_regression_tests(store: Any, args: Any = None, settings: Any = None) -> dict:
    """Run the stored tests with pytest in a subprocess (a scratch directory) and record
    each one's result on its row."""
    from ..improvement import regression_run

    a: RunRegressionTestsInput = parse(RunRegressionTestsInput, args)
    return regression_run.run(store, None, a.category)


class GenerateRegressionTestInput(Input):
    bug_pattern_id: int | None = None
    all: bool = False  # every bug pattern that has a recipe and no test yet


def generate_regression_test(store: Any, args: Any = None, settings: Any = None) -> dict:
    """Turn one bug pattern (or, with ``all``, every untested one) into a stored test."""
    from ..improvement import bugs, regression

    a: GenerateRegressionTestInput = parse(GenerateRegressionTestInput, args)
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


class RecordMetricInput(Input):
    name: str = Field(min_length=1, max_length=128)
    value: float
    unit: str = Field(default="", max_length=32)
    context: dict[str, Any] = Field(default_factory=dict)


def record_metric(store: Any, args: Any = None, settings: Any = None) -> dict:
    from ..improvement import metrics

    a: RecordMetricInput = parse(RecordMetricInput, args)
    return {"metric": metrics.record_metric(store, a.name, a.value, a.unit, a.context)}


class ModelPerformanceInput(Input):
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


def update_model_performance(store: Any, args: Any = None, settings: Any = None) -> dict:
    """Add an observation from outside (an evaluation, another tool) to the record the
    router learns from, or ``reset`` a model so it is measured afresh."""
    from ..improvement import performance

    a: ModelPerformanceInput = parse(ModelPerformanceInput, args)
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


# learnings -------------------------------------------------------------------------------


class SearchLearningsInput(Input):
    query: str = Field(min_length=1, max_length=2000)
    repository: str | None = Field(default=None, max_length=512)
    language: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=10, ge=1, le=100)


def search_learnings(store: Any, args: Any, embedder: Any) -> dict:
    """The same hybrid keyword + vector search the review prompts use."""
    from ..memory.catalog import search_learnings as search

    a: SearchLearningsInput = parse(SearchLearningsInput, args)
    rows = search(
        store, embedder, a.query, repository=a.repository, language=a.language, limit=a.limit
    )
    return {"learnings": rows}


# dismissals -------------------------------------------------------------------------------


class DismissFindingInput(Input):
    fingerprint: str | None = Field(default=None, min_length=1, max_length=64)
    path: str | None = Field(default=None, min_length=1, max_length=4096)
    line: int | None = Field(default=None, ge=1)
    repository: str | None = Field(default=None, max_length=512)
    reason: str | None = Field(default=None, max_length=2000)


def dismiss_finding(store: Any, args: Any, embedder: Any = None) -> dict:
    """Dismiss a recorded finding as the editor's Dismiss does: it is rejected in this
    repository (``kaizen check``, SARIF and the editor all suppress it from now on), counts
    against the model that found it, and becomes a lesson for the next prompts."""
    from pathlib import Path

    from ..improvement.events import record_finding_outcome
    from ..memory import dismissals, insights

    a: DismissFindingInput = parse(DismissFindingInput, args)
    try:
        if a.fingerprint:
            target = dismissals.by_fingerprint(store, a.fingerprint, a.repository)
        elif a.path and a.line:
            target = dismissals.by_location(store, Path(a.path), a.line)
        else:
            raise ToolError("give a fingerprint, or a path and a line")
    except dismissals.NotFound as exc:
        raise ToolError(str(exc)) from None
    row = target.row
    flagged = "\n".join(target.lines[row.start_line - 1 : row.end_line])
    store.set_outcome(row.repository, row.fingerprint, "rejected", a.reason, flagged)
    finding = dismissals.as_finding(row)
    record_finding_outcome(store, finding, "rejected")
    learned: list[int] = []
    if embedder is not None:
        item = insights.from_outcome(
            finding, "rejected", target.lines, row.repository, row.language, a.reason
        )
        learned = insights.record(store.engine, embedder, [item])
    return {
        "dismissed": {
            "fingerprint": row.fingerprint,
            "repository": row.repository,
            "uri": row.uri,
            "line": row.start_line,
            "category": row.code or row.category,
            "message": row.message,
            "reason": a.reason,
        },
        "insightIds": learned,
    }


class ListDismissalsInput(Input):
    repository: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=200, ge=1, le=10_000)


def list_dismissals(store: Any, args: Any = None, settings: Any = None) -> dict:
    """The dismissals in force, newest first, each with the id ``undismiss`` takes and how
    far it reaches (``review.dismissScope``)."""
    from ..core.workspace import repository_key
    from ..memory import dismissals

    a: ListDismissalsInput = parse(ListDismissalsInput, args)
    repository = repository_key(a.repository) if a.repository else None
    scope = settings.review.dismiss_scope if settings is not None else "folder"
    return {"dismissals": dismissals.listing(store, repository, a.limit), "scope": scope}


class UndismissInput(Input):
    target: str = Field(min_length=1, max_length=64)
    repository: str | None = Field(default=None, max_length=512)


def undismiss_finding(store: Any, args: Any, settings: Any = None) -> dict:
    """Undo a dismissal (by its id or fingerprint): the finding is open again, so every face
    shows it on its next review; the lesson it taught and the count against the model that
    found it are taken back."""
    from ..core.tasks import detector_of
    from ..core.workspace import repository_key
    from ..improvement import performance
    from ..memory import dismissals

    a: UndismissInput = parse(UndismissInput, args)
    repository = repository_key(a.repository) if a.repository else None
    try:
        row = dismissals.find(store, a.target.strip(), repository)
    except dismissals.NotFound as exc:
        raise ToolError(str(exc)) from None
    forgotten = dismissals.undismiss(store, row)
    finding = dismissals.as_finding(row)
    task = detector_of(finding.pipeline)
    if finding.origin == "model" and finding.model and task is not None:
        performance.add_sample(store, finding.model, task, performance.Sample(rejected=-1))
    return {"undismissed": dismissals.as_json(row), "forgottenInsightIds": forgotten}


# routing experiments ---------------------------------------------------------------------


class RoutingExperimentInput(Input):
    action: Literal["start", "status", "stop"] = "status"
    # a strategy: a cost weight (number) or an object {"name", "costWeight", "policy",
    # "rules"}; both needed to start
    a: Any = None
    b: Any = None
    cost_weight: float = Field(default=0.1, ge=0)  # prices cost in the compared utility
    alpha: float = Field(default=0.05, gt=0, lt=1)  # the sequential test's error rate
    max_tasks: int = Field(default=2000, ge=2)  # stop at this many resolved tasks
    promote: bool = False  # with stop: make the winner the team's strategy


def routing_experiment(store: Any, args: Any = None, settings: Any = None) -> dict:
    """Start, inspect or stop the A/B experiment of two routing strategies: live tasks are
    split at random between them, quality and cost are recorded per arm, and a sequential
    test stops it once one arm is better with the stated confidence (or at the cap)."""
    from ..improvement import experiments

    a: RoutingExperimentInput = parse(RoutingExperimentInput, args)
    try:
        if a.action == "start":
            if a.a is None or a.b is None:
                raise ToolError("start needs two strategies: a and b")
            started = experiments.start_experiment(
                store,
                a.a,
                a.b,
                cost_weight=a.cost_weight,
                alpha=a.alpha,
                max_tasks=a.max_tasks,
            )
            return {"experiment": started, "arms": None, "test": None}
        if a.action == "stop":
            return experiments.stop_experiment(store, a.promote)
        return experiments.experiment_status(store)
    except ValueError as exc:
        raise ToolError(str(exc)) from None

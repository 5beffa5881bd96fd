"""ONE tool table: every operation Kaizen exposes, with its name on each face.

``TOOLS`` maps the snake_case tool name (the MCP tool and the HTTP route ``/tools/<name>``)
to a ``Tool``: its input model (one schema, generated from pydantic), description, the
function that runs it, its LSP command name (``kaizen.<command>``, or None when the editor
does not get it) and its flags. ``kaizen mcp``, ``kaizen serve-http`` and the language
server's tool commands are all generated from this table, so a tool has one schema, one
validation and one implementation. Input from agents and scripts is strict: unknown fields
are refused, types are not coerced for JSON, and every value must be storable in SQLite
and PostgreSQL alike (integer fields within 64 bits, finite numbers, valid Unicode without
NUL), so bad input is refused before anything is written; the editor reads the same model
leniently (``operations.parse``).
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

from pydantic import BaseModel

from . import operations as ops
from . import rules_ops
from .operations import Mode, ToolError, parse

MAX_DEPTH = 32
INT64 = (-(2**63), 2**63 - 1)


class Context:
    """What tool calls run against: one open store and the settings (daily budget,
    embedding model). One per process, shared by the threads that serve requests."""

    def __init__(self, store: Any, settings: Any, root: Path | None = None) -> None:
        self.store = store
        self.settings = settings
        self.root = root  # the repository the face serves (rules tools); None: the cwd
        self._embedder: Any = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, database: str | None = None, root: Path | None = None) -> Context:
        """Settings as the CLI reads them (kaizen.toml, env, ``--database``), store opened."""
        from ..memory.store import open_configured

        settings, store = open_configured(database, root)
        return cls(store, settings, root)

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


def as_json(result: Any) -> Any:
    """Plain JSON (dates as strings), exactly as ``kaizen ... --format json`` prints it."""
    return json.loads(json.dumps(result, default=str))


Runner = Callable[["Context", Any], dict[str, Any]]


@dataclass(frozen=True)
class Tool:
    name: str  # snake_case: the MCP tool and the HTTP route
    input: type[BaseModel]
    description: str
    run: Runner
    command: str | None = None  # camelCase: the LSP command kaizen.<command>
    read_only: bool = False
    changes_routing: bool = False  # the router's snapshot must be re-read after it
    changes_findings: bool = False  # what an editor shows may change: review open documents
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

    def validate(self, arguments: Any, *, mode: Mode = "strict") -> BaseModel:
        """Checked arguments, or ``ToolError`` naming each bad field. ``mode`` is how the
        face reads its input (``operations.parse``): ``query`` lets strings stand for
        numbers and booleans (query strings have no other type), ``editor`` is lenient."""
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise ToolError(f"arguments of {self.name} must be a JSON object")
        check_value(arguments)
        arguments = integers(arguments, self.schema)
        return parse(self.input, arguments, mode)  # type: ignore[arg-type]

    def call(self, ctx: Context, arguments: Any, *, mode: Mode = "strict") -> dict[str, Any]:
        args = self.validate(arguments, mode=mode)
        return as_json(self.run(ctx, args))


def _on_store(function: Callable[[Any, Any, Any], dict[str, Any]]) -> Runner:
    """An operation over the store (and the settings) as a tool function."""

    def run(ctx: Context, args: Any) -> dict[str, Any]:
        return function(ctx.store, args, ctx.settings)

    return run


def _analyze_metrics(ctx: Context, args: Any) -> dict[str, Any]:
    return ops.analyze_metrics(ctx.store, args, ctx.settings, ctx.root)


def _dismiss_finding(ctx: Context, args: Any) -> dict[str, Any]:
    return ops.dismiss_finding(ctx.store, args, ctx.embedder())


def _search_learnings(ctx: Context, args: Any) -> dict[str, Any]:
    return ops.search_learnings(ctx.store, args, ctx.embedder())


_TOOLS = [
    Tool(
        "analyze_metrics",
        ops.AnalyzeMetricsInput,
        "The self-improvement report (what `kaizen metrics` shows): per task type the models "
        "in the router's order of preference with success rate, acceptance, latency, cost "
        "and calls; counts of bug patterns, regression tests and routing heuristics; recent "
        "bugs; today's spend; recorded metrics.",
        _analyze_metrics,
        command="analyzeMetrics",
        read_only=True,
        params={
            "taskType": "only this task type (e.g. issue_detector, fix_generator)",
            "includeReport": "also return the report as text, as `kaizen metrics` prints it",
            "recent": "how many recent bug patterns to list",
        },
    ),
    Tool(
        "get_regression_tests",
        ops.RegressionTestsInput,
        "The regression tests Kaizen generated from its bug patterns (pytest code included).",
        _on_store(ops.get_regression_tests),
        command="getRegressionTests",
        read_only=True,
        params={
            "category": "only tests of this bug category",
            "includeCode": "include each test's source code",
        },
    ),
    Tool(
        "run_regression_tests",
        ops.RunRegressionTestsInput,
        "Run the generated regression tests with pytest (in a subprocess, in a scratch "
        "directory) and record each one's result; returns every test's result and duration. "
        "Their last results also appear in get_regression_tests (lastResult, lastRunAt).",
        _on_store(ops.run_regression_tests),
        command="runRegressionTests",
        params={"category": "only tests of this bug category"},
    ),
    Tool(
        "generate_regression_test",
        ops.GenerateRegressionTestInput,
        "Turn a bug pattern into a stored regression test; with all: true, every bug pattern "
        "that has a recipe and no test yet.",
        _on_store(ops.generate_regression_test),
        command="generateRegressionTest",
        params={
            "bugPatternId": "the bug pattern to make a test for",
            "all": "make a test for every untested bug pattern instead",
        },
    ),
    Tool(
        "get_routing_heuristics",
        ops.RoutingHeuristicsInput,
        "The routing rules: a regular expression over the task and file, and the model or "
        "layer (fast, balanced, deep) it sends matching work to.",
        _on_store(ops.get_routing_heuristics),
        command="getRoutingHeuristics",
        read_only=True,
        params={"activeOnly": "only the rules that are switched on"},
    ),
    Tool(
        "update_routing_heuristic",
        ops.UpdateRoutingHeuristicInput,
        "Create a routing rule (no id), change fields of one (id), or delete it (id and "
        "delete: true). Running editors pick the change up within seconds.",
        _on_store(ops.update_routing_heuristic),
        command="updateRoutingHeuristic",
        changes_routing=True,
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
        ops.BugPatternsInput,
        "Bug patterns Kaizen has recorded (failed runs, invalid model answers, reported bugs).",
        _on_store(ops.get_bug_patterns),
        command="getBugPatterns",
        read_only=True,
        params={
            "category": "only this category",
            "limit": "at most this many",
            "order": "most recent first, or most occurrences first",
        },
    ),
    Tool(
        "record_bug_pattern",
        ops.RecordBugPatternInput,
        "Record one occurrence of a bug; the same category and pattern again counts another "
        "occurrence of the same bug pattern.",
        _on_store(ops.record_bug_pattern),
        command="recordBugPattern",
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
        ops.RecordMetricInput,
        "Record one value of a named metric (e.g. a benchmark timing) for the report.",
        _on_store(ops.record_metric),
        command="recordMetric",
        params={
            "name": "the metric's name",
            "value": "the measured value",
            "unit": "its unit (e.g. ms, %)",
            "context": "free-form details of the measurement",
        },
    ),
    Tool(
        "update_model_performance",
        ops.ModelPerformanceInput,
        "Add an observation of a model on a task type to the record the router learns from "
        "(totals over `calls`), or reset the model's record first so it is measured afresh.",
        _on_store(ops.update_model_performance),
        command="updateModelPerformance",
        changes_routing=True,
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
        "dismiss_finding",
        ops.DismissFindingInput,
        "Dismiss a finding Kaizen reported (by fingerprint, or by file and line) as the "
        "editor's Dismiss does: `kaizen check`, its SARIF and the editor suppress it from "
        "then on, and the reason becomes a lesson for later reviews.",
        _dismiss_finding,
        # None: the editor has kaizen.dismiss, which also updates what is on screen
        command=None,
        params={
            "fingerprint": "the finding's fingerprint (as `kaizen check --format json` shows)",
            "path": "the file of the finding (with line, instead of a fingerprint)",
            "line": "a line of the finding (1-based)",
            "repository": "the repository of the fingerprint, when it is in several",
            "reason": "why it is not a problem (kept as the SARIF justification)",
        },
    ),
    Tool(
        "list_dismissals",
        ops.ListDismissalsInput,
        "The dismissals in force (newest first): each dismissed finding's id, fingerprint, "
        "file, line, category, message and reason, and the scope a dismissal reaches "
        "(review.dismissScope). Undo one with undismiss_finding.",
        _on_store(ops.list_dismissals),
        command="listDismissals",
        read_only=True,
        params={
            "repository": "only dismissals in this repository (e.g. acme/widgets)",
            "limit": "at most this many",
        },
    ),
    Tool(
        "undismiss_finding",
        ops.UndismissInput,
        "Undo a dismissal (by the id list_dismissals shows, or the finding's fingerprint): "
        "the finding is shown again on the next review in every face, and the lesson its "
        "dismissal taught is taken back.",
        _on_store(ops.undismiss_finding),
        command="undismiss",
        changes_findings=True,
        params={
            "target": "the dismissal's id or the finding's fingerprint",
            "repository": "the repository, when a fingerprint is in several",
        },
    ),
    Tool(
        "search_learnings",
        ops.SearchLearningsInput,
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

_TOOLS.append(
    Tool(
        "routing_experiment",
        ops.RoutingExperimentInput,
        "A/B experiment of two routing strategies (cost weights, policies or rule sets): "
        "start splits live tasks at random between them, status shows each arm's quality, "
        "cost and the sequential test's state, stop ends it (promote: the winner becomes "
        "the strategy every process on this database uses).",
        _on_store(ops.routing_experiment),
        command="routingExperiment",
        changes_routing=True,
        params={
            "action": "start, status or stop",
            "a": "strategy A: a cost weight, or {name, costWeight, policy, rules}",
            "b": "strategy B, the same way",
            "costWeight": "how the compared utility prices cost",
            "alpha": "the sequential test's false-positive rate",
            "maxTasks": "stop after this many resolved tasks",
            "promote": "with stop: make the winner the strategy in use",
        },
    )
)

_TOOLS += [
    Tool(
        "rules_suggest",
        rules_ops.RulesSuggestInput,
        "Rules Kaizen proposes from this repository's outcomes (a kind of finding dismissed "
        "again and again under one path glob: do not report it there; one accepted "
        "consistently: always check it; a fix accepted 3+ times: an ast-grep rule that "
        "checks it instantly, kind promote), each with its evidence: counts, examples and "
        "the Beta posterior or the validated rule. Rejected proposals are not proposed again.",
        rules_ops.rules_suggest,
        command="rulesSuggest",
        read_only=True,
        params={
            "limit": "at most this many proposals",
            "includeRefused": "also the synthesised rules validation refused, with why",
        },
    ),
    Tool(
        "rules_list",
        rules_ops.RulesListInput,
        "The repository's review rules (instruction files, .kaizen/rules Markdown and "
        "ast-grep rules) with their origin (written, learned, promoted), and the current "
        "and rejected proposals.",
        rules_ops.rules_list,
        command="rulesList",
        read_only=True,
        params={"includeProposals": "also list current and rejected proposals"},
    ),
    Tool(
        "rules_accept",
        rules_ops.RulesAcceptInput,
        "Accept proposals: each is written into .kaizen/rules/learned.md in the repository "
        "(front matter and text), a promote proposal into .kaizen/rules/<id>.yml (ast-grep), "
        "once, so the team reviews it like any change.",
        rules_ops.rules_accept,
        command="rulesAccept",
        params={"ids": "the proposal ids (from rules_suggest)"},
    ),
    Tool(
        "rules_reject",
        rules_ops.RulesRejectInput,
        "Reject proposals: they are remembered and never proposed again.",
        rules_ops.rules_reject,
        command="rulesReject",
        params={"ids": "the proposal ids (from rules_suggest)", "reason": "why not"},
    ),
]

TOOLS: dict[str, Tool] = {tool.name: tool for tool in _TOOLS}


def get(name: str) -> Tool:
    try:
        return TOOLS[name]
    except KeyError:
        raise ToolError(f"unknown tool {name!r}; the tools are: {', '.join(TOOLS)}") from None

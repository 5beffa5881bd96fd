"""Bug patterns: every failed model call and every pipeline error, normalised and counted.

A failure is classified into a category (``model-invalid-json``, ``model-invalid-schema``,
``model-timeout``, ``model-http-429``, ``model-connection``, ``pipeline-error``, ...) and a
pattern with the variable parts taken out (numbers, quoted values, URLs), so the same failure
seen again increments ``occurrences`` instead of adding a row.

For an invalid answer the pattern also keeps the answer's *shape*: the raw text with every
letter and digit masked, except the JSON keys and enum values the answer schema defines and
the JSON numbers. The shape reproduces the failure (it is checked to) without keeping what the
model wrote, which may quote the user's code; regression tests are built from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select, update

from ..core.answers import SHAPE_LIMIT
from ..core.runs import RunStatus
from ..core.tasks import TASKS
from ..memory.schema import BugPattern, Run, utcnow
from ..memory.sql import upsert_increment
from ..models.gateway import extract_json, validate_answer

SOLUTIONS = {
    "model-invalid-json": (
        "The answer is treated as a failed attempt and the router falls back to the next model; "
        "a model that keeps doing this stops being chosen. Prefer models with JSON-schema "
        "output, or pin another model with a routing rule."
    ),
    "model-invalid-schema": (
        "The answer parsed but did not match the schema: it is a failed attempt and the router "
        "falls back. If one model keeps doing it, a routing rule can avoid it."
    ),
    "model-answer-too-large": "Oversized answers are rejected unparsed; the router falls back.",
    "model-timeout": (
        "litellm's timeout ends the call and the router falls back; raise "
        "kaizen.requestTimeoutS if the model is just slow."
    ),
    "model-http-429": (
        "Rate limited: litellm retries with backoff and cools the deployment down, the router "
        "falls back meanwhile. Lower the request rate or raise the provider quota."
    ),
    "model-connection": "The endpoint could not be reached: check apiBase and the network.",
    "model-auth": "The provider rejected the key: check the API key for this model.",
    "model-not-found": "The provider does not know this model name: check the model setting.",
    "model-cooldown": "litellm cooled the deployment down after repeated failures; it recovers.",
    "pipeline-error": "An unexpected exception ended the run; write a regression test by hand.",
    "run-interrupted": "The server stopped during a run (crash or kill); it was marked failed.",
}
GENERIC_SOLUTION = (
    "The provider returned an error: litellm retries it, then the router falls back to the next "
    "model. If it persists, check the provider's status and this model's settings."
)
SEVERITY = {
    "model-auth": "high",
    "model-not-found": "high",
    "pipeline-error": "high",
    "model-timeout": "low",
    "model-http-429": "low",
    "model-cooldown": "low",
    "run-interrupted": "low",
}

_EXCEPTION_CATEGORY = {
    "RateLimitError": "model-http-429",
    "Timeout": "model-timeout",
    "APITimeoutError": "model-timeout",
    "AuthenticationError": "model-auth",
    "PermissionDeniedError": "model-http-403",
    "NotFoundError": "model-not-found",
    "BadRequestError": "model-http-400",
    "ContextWindowExceededError": "model-context-window",
    "ContentPolicyViolationError": "model-content-policy",
    "UnprocessableEntityError": "model-http-422",
    "ServiceUnavailableError": "model-http-503",
    "InternalServerError": "model-http-500",
    "APIConnectionError": "model-connection",
    "APIError": "model-http-error",
}


@dataclass
class BugReport:
    category: str
    pattern: str
    description: str
    solution: str = ""
    severity: str = "medium"
    example: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


# normalising -----------------------------------------------------------------------------

_PREFIX = re.compile(r"^(?:litellm\.)?\w*(?:Error|Timeout|Exception)\s*:\s*")
_NOISE = [
    (re.compile(r"\s*(?:Received Model Group=|Deployment Info:).*$", re.S), ""),
    (re.compile(r"input_value=.*?(?=, input_type=|\]|$)"), "input_value=…"),
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"'[^']{0,200}'|\"[^\"]{0,200}\""), "'…'"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{12,}\b"), "<hex>"),
    # numbers standing alone (counts, ports, line numbers), not digits inside a name such as
    # ``gpt-4o-minii`` or ``claude-3-5-haiku``: those are what tells two patterns apart
    (re.compile(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w-])"), "N"),
    (re.compile(r"\s+"), " "),
]


def normalise(text: str, limit: int = 240) -> str:
    """The stable part of an error message: what stays the same when the failure repeats."""
    name = exception_name(text)
    while (stripped := _PREFIX.sub("", text, count=1)) != text:
        text = stripped
    if name:
        text = f"{name}: {text}"
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    text = text.strip(" .")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def exception_name(error: str) -> str:
    head = error.split(":", 1)[0].strip()
    return head.rsplit(".", 1)[-1] if re.fullmatch(r"[\w.]+", head) else ""


# answer shapes ---------------------------------------------------------------------------


def schema_words(answer_type: type[BaseModel]) -> set[str]:
    """Property names and enum values of the answer schema: kept verbatim in shapes."""
    words: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                words.update(node["properties"])
            for value in node.get("enum", []) if isinstance(node.get("enum"), list) else []:
                if isinstance(value, str):
                    words.add(value)
            if "const" in node and isinstance(node["const"], str):
                words.add(node["const"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(answer_type.model_json_schema())
    return words


def mask_text(text: str) -> str:
    return "".join("0" if c.isdigit() else "x" if c.isalnum() else c for c in text)


def _mask_json(value: Any, keep: set[str]) -> Any:
    if isinstance(value, dict):
        return {(k if k in keep else mask_text(k)): _mask_json(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v, keep) for v in value]
    if isinstance(value, str):
        return value if value in keep else mask_text(value)
    return value  # numbers, booleans, null: kept (they decide validity, they hold no text)


def _kind(content: str, answer_type: type[BaseModel]) -> str:
    """How ``validate_answer`` sees ``content``: ok, not-json, too-large or schema."""
    status, _value, why = validate_answer(content, answer_type)
    if status == "ok":
        return "ok"
    if "not JSON" in (why or ""):
        return "not-json"
    return "too-large" if "too large" in (why or "") else "schema"


def answer_shape(raw: str, answer_type: type[BaseModel]) -> str | None:
    """A redacted answer that fails validation the way ``raw`` did, or None if none does."""
    want = _kind(raw, answer_type)
    if want in ("ok", "too-large"):
        return None
    try:
        shape = json.dumps(_mask_json(extract_json(raw), schema_words(answer_type)))
    except ValueError:
        shape = mask_text(raw)
    if len(shape) <= SHAPE_LIMIT and _kind(shape, answer_type) == want:
        return shape
    return canonical_shape("not-json" if want == "not-json" else "schema", answer_type)


def canonical_shape(kind: str, answer_type: type[BaseModel]) -> str | None:
    """A representative invalid answer of ``kind`` when none was recorded."""
    if kind == "not-json":
        candidates = ['Xxxx xx xxx xxxxxx: {"xxxxxx": [', "Xxxxx, x xxxxxx xxxxxx xxxx xxxx."]
    else:
        first = next(iter(answer_type.model_json_schema().get("properties", {})), "answer")
        candidates = [json.dumps({first: "x"}), json.dumps({first: {"x": 0}}), "[]"]
    for shape in candidates:
        if _kind(shape, answer_type) == kind:
            return shape
    return None


# classification --------------------------------------------------------------------------


def _answer_type(task: str) -> type[BaseModel] | None:
    row = TASKS.get(task)
    return row.answer if row else None


def classify_attempt(outcome: Any) -> BugReport | None:
    """A failed gateway ``CallOutcome`` as a bug report; None for a successful one."""
    if outcome.status == "ok":
        return None
    error = outcome.error or ""
    task, model = outcome.task, outcome.target.model
    meta: dict[str, Any] = {"task": task, "model": model, "status": outcome.status}
    example = None
    if outcome.status == "invalid":
        answer_type = _answer_type(task)
        raw = getattr(outcome, "raw", None)  # the gateway keeps the raw answer when it can
        if "too large" in error:
            category, summary = "model-answer-too-large", "answer too large"
        elif "not JSON" in error:
            category, summary = "model-invalid-json", "answer is not JSON"
            if answer_type is not None:
                example = (answer_shape(raw, answer_type) if raw else None) or canonical_shape(
                    "not-json", answer_type
                )
        else:
            category = "model-invalid-schema"
            detail = error.removeprefix("invalid answer:").strip()
            summary = "answer does not match the schema: " + normalise(
                re.sub(r"\s+Input should.*?(\[type=[\w.]+)", r" \1", detail), 160
            )
            if answer_type is not None:
                example = (answer_shape(raw, answer_type) if raw else None) or canonical_shape(
                    "schema", answer_type
                )
        meta["shapeSource"] = "recorded" if raw and example else "representative"
        description = f"{model} gave an unusable answer for {task}: {normalise(error, 400)}"
    else:
        name = exception_name(error)
        category = _EXCEPTION_CATEGORY.get(name, "model-error")
        if "No deployments available" in error or "cooldown" in error.lower():
            category = "model-cooldown"
        elif "Connection error" in error or "ConnectError" in error:
            category = "model-connection"
        summary = normalise(error)
        meta["exception"] = name
        description = f"{model} failed on {task}: {normalise(error, 400)}"
    return BugReport(
        category=category,
        pattern=f"{task} via {model}: {summary}",
        description=description,
        solution=SOLUTIONS.get(category, GENERIC_SOLUTION),
        severity=SEVERITY.get(category, "medium"),
        example=example,
        meta=meta,
    )


_MODEL_FAILURE = re.compile(r"^\w+ failed \(")


def classify_run_error(pipeline: str, error: str) -> BugReport | None:
    """A failed run's error as a bug report; None when it is not a bug (model failures are
    recorded per attempt; skipped documents and cancellations are expected)."""
    if not error or _MODEL_FAILURE.match(error) or error.startswith("cancelled"):
        return None
    if error.rstrip().endswith("not analysed") or "skipped" in error:
        return None
    if error.startswith("interrupted"):
        category, summary = "run-interrupted", normalise(error)
    else:
        category, summary = "pipeline-error", normalise(error)
    return BugReport(
        category=category,
        pattern=f"{pipeline}: {summary}",
        description=f"the {pipeline} pipeline failed: {normalise(error, 400)}",
        solution=SOLUTIONS[category],
        severity=SEVERITY[category],
        meta={"pipeline": pipeline, "exception": exception_name(error)},
    )


# the record ------------------------------------------------------------------------------


def _upsert(session: Any, report: BugReport) -> None:
    now = utcnow()
    assign: dict[str, Any] = {
        "description": report.description,
        "solution": report.solution,
        "severity": report.severity,
        "metadata": report.meta,  # the column is "metadata"
        "last_seen": now,
    }
    if report.example is not None:
        assign["example"] = report.example
    upsert_increment(
        session,
        BugPattern.__table__,
        {"category": report.category, "pattern": report.pattern},
        {"occurrences": 1},
        assign,
        insert_only={"first_seen": now},
    )


def record(store: Any, report: BugReport) -> dict[str, Any]:
    """Add one occurrence of ``report`` (a new row the first time); returns the row."""
    with store.sessions.begin() as s:
        _upsert(s, report)
        row = s.scalar(
            select(BugPattern).where(
                BugPattern.category == report.category, BugPattern.pattern == report.pattern
            )
        )
        return as_json(row)




def sweep_failed_runs(store: Any) -> int:
    """Record failed runs not recorded yet (pipeline exceptions end a run without a hook: the
    runs table is the source). Each failed run is claimed with one ``UPDATE … RETURNING``, so
    however many servers sweep at once, each run is counted exactly once. Returns how many
    this call recorded."""
    with store.sessions.begin() as s:
        claimed = s.execute(
            update(Run)
            .where(Run.status == RunStatus.FAILED.value, Run.swept.is_(False))
            .values(swept=True)
            .returning(Run.id, Run.pipeline, Run.error)
        ).all()
        recorded = 0
        for row in sorted(claimed, key=lambda r: r.id):
            report = classify_run_error(row.pipeline, row.error or "")
            if report is not None:
                report.meta["runId"] = row.id
                _upsert(s, report)
                recorded += 1
        return recorded


def as_json(row: BugPattern | None) -> dict[str, Any]:
    if row is None:
        return {}
    return {
        "id": row.id,
        "category": row.category,
        "pattern": row.pattern,
        "description": row.description,
        "solution": row.solution,
        "occurrences": row.occurrences,
        "severity": row.severity,
        "example": row.example,
        "metadata": row.meta or {},
        "firstSeen": row.first_seen.isoformat() if row.first_seen else None,
        "lastSeen": row.last_seen.isoformat() if row.last_seen else None,
    }


def list_patterns(
    store: Any, category: str | None = None, limit: int = 50, order: str = "recent"
) -> list[dict[str, Any]]:
    with store.session() as s:
        query = select(BugPattern)
        if category:
            query = query.where(BugPattern.category == category)
        if order == "occurrences":
            query = query.order_by(BugPattern.occurrences.desc(), BugPattern.id)
        else:
            query = query.order_by(BugPattern.last_seen.desc(), BugPattern.id.desc())
        return [as_json(row) for row in s.scalars(query.limit(limit))]


def get_pattern(store: Any, pattern_id: int) -> dict[str, Any] | None:
    with store.session() as s:
        row = s.get(BugPattern, pattern_id)
        return as_json(row) if row is not None else None

"""Tables, as SQLAlchemy 2 models, and the migrations that bring any older database up to date.

One schema serves SQLite (the per-user default) and PostgreSQL (teams). Counters are
incremented in SQL (``occurrences = occurrences + 1``), never read-modify-written in Python,
so several server processes can share one database.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}
    # Every model here is mapped to a plain Table (no mapping to joins or selects), and saying
    # so lets Core statements (insert/update of ``Model.__table__``) type-check as they run.
    __table__: ClassVar[Table]


class Meta(Base):
    """Key/value facts about the database itself: schema version, embedder, dimension."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Run(Base):
    """One pipeline run on one document; ``status`` maps to a phase through pipelines.run."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(16))
    uri: Mapped[str] = mapped_column(Text)
    repository: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(32), default="")
    document_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    insight_ids: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # a failed run already turned into a bug pattern (claimed atomically by one sweeper)
    swept: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModelCall(Base):
    """One attempt at one model: the raw material of model_performance and bug patterns."""

    __tablename__ = "model_calls"
    # the newest calls of one model on one task: the degradation alerts' window
    __table_args__ = (Index("ix_model_calls_model_task", "model", "task", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    task: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # ok | invalid | error
    # False: the request never got to the model (gateway.UNREACHED); NULL on older rows
    reached: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # what models.predict expected before the call (None: not predicted)
    predicted_prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    predicted_completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    predicted_cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FindingRow(Base):
    """A finding as the user saw it, keyed by repository + fingerprint across runs."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("repository", "fingerprint"),
        # every run reads the repository's dismissed findings (rejected_reasons): without
        # it, a scan of every finding ever recorded, on the save's path
        Index("ix_findings_repo_status", "repository", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    repository: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
    )
    pipeline: Mapped[str] = mapped_column(String(16))
    uri: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32), default="")
    category: Mapped[str] = mapped_column(String(64))
    # the diagnostic code (ruff rule, refactor/<kind>); NULL on rows from before it was kept
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    severity: Mapped[str] = mapped_column(String(16))
    start_line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text, default="")
    fix: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    origin: Mapped[str] = mapped_column(String(16), default="model")
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the flagged code (redacted) when the user dismissed it: "like a dismissed finding"
    # needs the code to be alike too, not only the words (memory.dismissals)
    dismissed_code: Mapped[str | None] = mapped_column(Text, nullable=True)
    times_shown: Mapped[int] = mapped_column(Integer, default=1)
    pr_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    pr_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkflowInsight(Base):
    """Something learned. ``workflow_id`` is null for insights that come from a pipeline run.

    ``content_hash`` identifies the same lesson across runs so repeats are counted in
    ``occurrences`` instead of stored twice.
    """

    __tablename__ = "workflow_insights"
    __table_args__ = (
        UniqueConstraint("repository", "content_hash"),
        Index("ix_insights_repo_lang", "repository", "language"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    repository: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64), default="")
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    source_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(128), default="")
    embedder: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingRule(Base):
    """A user or learned heuristic: tasks/files matching ``pattern`` go to a layer or model."""

    __tablename__ = "routing_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern: Mapped[str] = mapped_column(Text)
    preferred_layer: Mapped[str | None] = mapped_column(String(16), nullable=True)
    preferred_model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelPerformance(Base):
    """Per model and task type: the router's evidence. Sums, so updates are increments."""

    __tablename__ = "model_performance"
    __table_args__ = (UniqueConstraint("model", "task_type"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    task_type: Mapped[str] = mapped_column(String(32))
    calls: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[float] = mapped_column(Float, default=0.0)
    total_latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    total_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    total_completion_tokens: Mapped[float] = mapped_column(Float, default=0.0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)  # answers that did not validate
    errors: Mapped[int] = mapped_column(Integer, default=0)  # calls that raised
    # of ``errors``, calls that never reached the model (success rates leave them out)
    unreached: Mapped[int] = mapped_column(Integer, default=0)
    # model findings grounding dropped (not user dismissals: those are ``rejected``)
    dropped: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BugPattern(Base):
    """A failure seen before; ``occurrences`` counts repeats of the same pattern."""

    __tablename__ = "bug_patterns"
    __table_args__ = (UniqueConstraint("category", "pattern"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(64))
    pattern: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    solution: Mapped[str] = mapped_column(Text, default="")
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    example: Mapped[str | None] = mapped_column(Text, nullable=True)  # redacted answer shape
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)  # task, model, ...
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RegressionTest(Base):
    """A pytest test generated from a bug pattern so the bug cannot come back unnoticed."""

    __tablename__ = "regression_tests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    test_name: Mapped[str] = mapped_column(String(200), unique=True)
    category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    test_code: Mapped[str] = mapped_column(Text)
    expected_behavior: Mapped[str] = mapped_column(Text, default="")
    discovered_from: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the last ``kaizen regression-tests --run``: passed | failed | error | skipped
    last_result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class PerformanceMetric(Base):
    """A measured number (latency, tokens, ...) with its unit and context."""

    __tablename__ = "performance_metrics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32), default="")
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UnitReview(Base):
    """The review cache: what the model found in one unit (a function, a method, the module
    rest) of one file, keyed by the unit's content hash (which covers its context, the
    model, the prompt version and the settings that change the answer). ``findings`` holds
    positions relative to the unit, so code that moves keeps its findings.

    A long unit also keeps its name, the digest of what besides its code changes its answer
    (``answer_key``) and a digest of each of its lines (never the code): when it changes in
    a few lines, the next review shows a window around them and carries the findings of
    the rest (``pipelines/windows``)."""

    __tablename__ = "unit_reviews"
    __table_args__ = (
        UniqueConstraint("repository", "path", "unit_hash"),
        Index("ix_unit_reviews_used", "used_at"),
        Index("ix_unit_reviews_name", "repository", "path", "unit_name"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text)
    unit_hash: Mapped[str] = mapped_column(String(64))
    pipeline: Mapped[str] = mapped_column(String(16))
    findings: Mapped[list[Any]] = mapped_column(default=list)
    unit_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer_key: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lines: Mapped[list[Any] | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RouterBasis(Base):
    """The contextual router's feature basis (``models.features``): fitted once from the
    first embeddings seen, then shared by every process on this database."""

    __tablename__ = "router_basis"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    embedder: Mapped[str] = mapped_column(String(128), unique=True)
    rank: Mapped[int] = mapped_column(Integer)
    embed_dim: Mapped[int] = mapped_column(Integer)
    scale: Mapped[float] = mapped_column(Float)
    mean: Mapped[bytes] = mapped_column(LargeBinary)  # float64, little-endian
    components: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RouterState(Base):
    """Sufficient statistics of the contextual policy for one model in one basis: sums, so
    the processes of a team add their updates instead of overwriting each other's."""

    __tablename__ = "router_state"
    __table_args__ = (UniqueConstraint("basis_id", "model"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    basis_id: Mapped[str] = mapped_column(String(32), index=True)
    model: Mapped[str] = mapped_column(String(128))
    dim: Mapped[int] = mapped_column(Integer)
    n: Mapped[float] = mapped_column(Float, default=0.0)
    sum_r: Mapped[float] = mapped_column(Float, default=0.0)
    sum_r2: Mapped[float] = mapped_column(Float, default=0.0)
    precision: Mapped[bytes] = mapped_column(LargeBinary)  # sum x x^T, float64
    moment: Mapped[bytes] = mapped_column(LargeBinary)  # sum r x, float64
    writes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RouterDecision(Base):
    """One routed task: its features (so a later accepted / dismissed finding is learned in
    the context it was decided in), cost, reward and A/B experiment arm."""

    __tablename__ = "router_decisions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    task: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="")
    basis_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    features: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # float32
    experiment_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    arm: Mapped[str | None] = mapped_column(String(1), nullable=True)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    relative_cost: Mapped[float] = mapped_column(Float, default=0.0)
    outcomes: Mapped[int] = mapped_column(Integer, default=0)
    reward_sum: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingExperiment(Base):
    """An A/B test of two routing strategies (``improvement.experiments``)."""

    __tablename__ = "routing_experiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | stopped
    arm_a: Mapped[dict[str, Any]] = mapped_column(default=dict)
    arm_b: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cost_weight: Mapped[float] = mapped_column(Float, default=0.1)  # the utility's trade-off
    alpha: Mapped[float] = mapped_column(Float, default=0.05)
    max_tasks: Mapped[int] = mapped_column(Integer, default=2000)
    winner: Mapped[str | None] = mapped_column(String(1), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FixExampleRow(Base):
    """An accepted fix as code: the lines before and after it (``memory.fix_examples``).

    Fixes of one kind accepted again and again are generalised into an ast-grep rule
    (``rules.synthesis``); the examples are what it is learned from and tested against."""

    __tablename__ = "fix_examples"
    __table_args__ = (
        UniqueConstraint("repository", "digest"),
        Index("ix_fix_examples_repo_kind", "repository", "language", "kind"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(64))  # the finding's code (category or rule id)
    path: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    how: Mapped[str] = mapped_column(String(16), default="accepted")  # accepted | fixed_by_hand
    digest: Mapped[str] = mapped_column(String(64))  # kind + before + after: one row each
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SymbolFile(Base):
    """The workspace symbol index, one row per file (``languages.symbols``): its content
    hash, its size and modification time (a restart re-reads only files whose stamp
    changed) and its definitions and imports as JSON (``symbols``, ``imports``)."""

    __tablename__ = "symbol_files"
    __table_args__ = (UniqueConstraint("repository", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    mtime_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    outline: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

"""Learnings between databases: the JSON lines export and the merging import behind
``kaizen db export`` / ``kaizen db import``.

The way a developer's personal learnings reach the team database: the export is JSON lines,
one object a line: a header, the insights (without embeddings: the target re-embeds with its
own embedder, so vectors always match its index) and the outcomes of findings (accepted,
dismissed, fixed by hand: what suppresses a finding the user already dismissed). Import
merges by content hash, as the server does: a lesson the target already knows gets the
imported occurrences added, a new one is inserted with its author (``recordedBy``) kept.
Importing the same file twice is refused unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from .meta import get_meta, set_meta
from .sql import dialect_insert

FORMAT = "kaizen-learnings"
FORMAT_VERSION = 1
BATCH = 256
IMPORT_KEY = "import:{digest}"

# Column limits of the schema; longer values in a file are clipped or rejected.
_LIMITS = {"kind": 32, "category": 64, "language": 32, "fingerprint": 64, "recordedBy": 128}
_MAX_TEXT = 8000


def describe(engine: Any) -> str:
    """The engine's URL without its password."""
    return str(engine.url.render_as_string(hide_password=True))


def _embedder(settings: Any) -> Any:
    # The same choice as the server's LearningLoop, so its index is never rebuilt for us.
    from ..core.embed import make_embedder

    return make_embedder(settings.learnings.embedding_model)


def prepare(engine: Any, settings: Any) -> tuple[int, Any]:
    """Migrate and build the search index; returns (version before, embedder)."""
    from .db import writer
    from .migrate import migrate
    from .search import ensure_index

    start = migrate(engine)
    embedder = _embedder(settings)
    with writer(engine).begin() as conn:
        ensure_index(conn, embedder)
    return start, embedder


# export ----------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def insight_record(row: Any) -> dict[str, Any]:
    return {
        "type": "insight",
        "repository": row.repository,
        "language": row.language,
        "kind": row.kind,
        "category": row.category,
        "fingerprint": row.fingerprint,
        "summary": row.summary,
        "detail": row.detail,
        "contentHash": row.content_hash,
        "occurrences": row.occurrences,
        "recordedBy": row.recorded_by,
        "workflowId": row.workflow_id,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
    }


def finding_record(row: Any) -> dict[str, Any]:
    return {
        "type": "finding",
        "repository": row.repository,
        "fingerprint": row.fingerprint,
        "pipeline": row.pipeline,
        "uri": row.uri,
        "language": row.language,
        "category": row.category,
        "severity": row.severity,
        "startLine": row.start_line,
        "endLine": row.end_line,
        "message": row.message,
        "rationale": row.rationale,
        "origin": row.origin,
        "model": row.model,
        "status": row.status,
        "outcomeReason": row.outcome_reason,
        "timesShown": row.times_shown,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
    }


def export(engine: Any, out: IO[str], repository: str | None = None) -> dict[str, int]:
    """Write the header, every insight and every finding with an outcome; returns counts."""
    from sqlalchemy import select

    from ..core.workspace import repository_key
    from .migrate import SCHEMA_VERSION, current_version
    from .schema import FindingRow, WorkflowInsight

    if repository is not None:  # acme/widgets, a remote URL: the stored form
        repository = repository_key(repository)
    counts = {"insight": 0, "finding": 0}
    with engine.connect() as conn:
        header = {
            "type": "header",
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "schemaVersion": current_version(conn) or SCHEMA_VERSION,
            "exportedAt": datetime.now(timezone.utc).isoformat(),
            "repository": repository,
        }
        out.write(json.dumps(header) + "\n")
        streaming = conn.execution_options(stream_results=True, yield_per=1000)
        insight_q = select(WorkflowInsight.__table__).order_by(WorkflowInsight.id)
        finding_q = (
            select(FindingRow.__table__).where(FindingRow.status != "open").order_by(FindingRow.id)
        )
        if repository is not None:
            insight_q = insight_q.where(WorkflowInsight.repository == repository)
            finding_q = finding_q.where(FindingRow.repository == repository)
        for kind, query, to_record in (
            ("insight", insight_q, insight_record),
            ("finding", finding_q, finding_record),
        ):
            for row in streaming.execute(query):
                out.write(json.dumps(to_record(row), ensure_ascii=False) + "\n")
                counts[kind] += 1
    return counts


# import ----------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    inserted: int = 0
    merged: int = 0
    findings: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    refused: str | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None

    def summary(self, where: str) -> str:
        if self.refused:
            return self.refused
        lines = [
            f"Imported into {where}: {self.inserted} new insights, {self.merged} merged into "
            f"existing ones, {self.findings} finding outcomes"
            + (f"; skipped {self.skipped} invalid lines." if self.skipped else ".")
        ]
        lines += [f"  {p}" for p in self.problems[:10]]
        return "\n".join(lines)


class Invalid(ValueError):
    """One bad record: skipped and reported."""


class Unreadable(Exception):
    """Not an export this Kaizen reads: nothing is imported."""


def _text(
    record: dict[str, Any],
    key: str,
    *,
    required: bool = True,
    limit: int = _MAX_TEXT,
    default: str = "",
) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise Invalid(f"{key} is missing")
        return default
    if not isinstance(value, str):
        raise Invalid(f"{key} is not a string")
    if key in _LIMITS and len(value) > _LIMITS[key]:
        raise Invalid(f"{key} is longer than {_LIMITS[key]} characters")
    return value[:limit]


def _int(record: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = record.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{key} is not an integer")
    return max(low, min(high, value))


def _when(record: dict[str, Any], key: str) -> datetime:
    value = record.get(key)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


@dataclass
class _Insight:
    item: Any  # insights.InsightInput (scrubbed, so its content_hash is the target's)
    occurrences: int
    recorded_by: str
    created_at: datetime
    updated_at: datetime


def parse_insight(record: dict[str, Any]) -> _Insight:
    from ..security.redact import scrub
    from .insights import MAX_DETAIL, InsightInput

    summary = scrub(_text(record, "summary")).strip()
    if not summary:
        raise Invalid("summary is empty")
    workflow_id = record.get("workflowId")
    if workflow_id is not None and (
        isinstance(workflow_id, bool) or not isinstance(workflow_id, int)
    ):
        raise Invalid("workflowId is not an integer")
    item = InsightInput(
        kind=_text(record, "kind"),
        category=_text(record, "category", required=False),
        summary=summary,
        detail=scrub(_text(record, "detail", required=False))[:MAX_DETAIL],
        repository=_text(record, "repository", required=False),
        language=_text(record, "language", required=False),
        fingerprint=_text(record, "fingerprint", required=False) or None,
        workflow_id=workflow_id,
    )
    if not item.kind:
        raise Invalid("kind is empty")
    return _Insight(
        item=item,
        occurrences=_int(record, "occurrences", 1, 1, 1_000_000),
        recorded_by=_text(record, "recordedBy", required=False),
        created_at=_when(record, "createdAt"),
        updated_at=_when(record, "updatedAt"),
    )


def parse_finding(record: dict[str, Any]) -> dict[str, Any]:
    from ..security.redact import scrub

    status = _text(record, "status")
    if status == "open" or len(status) > 16:
        raise Invalid(f"finding status {status!r} is not an outcome")
    fingerprint = _text(record, "fingerprint")
    if not fingerprint:
        raise Invalid("fingerprint is empty")
    reason = record.get("outcomeReason")
    return {
        "fingerprint": fingerprint,
        "repository": _text(record, "repository", required=False),
        "pipeline": _text(record, "pipeline", limit=16, default="autofix", required=False),
        "uri": _text(record, "uri", required=False),
        "language": _text(record, "language", required=False),
        "category": _text(record, "category", required=False),
        "severity": _text(record, "severity", limit=16, default="warning", required=False),
        "start_line": _int(record, "startLine", 1, 0, 10_000_000),
        "end_line": _int(record, "endLine", 1, 0, 10_000_000),
        "message": scrub(_text(record, "message", required=False)),
        "rationale": scrub(_text(record, "rationale", required=False)),
        "origin": _text(record, "origin", limit=16, default="model", required=False),
        "model": _text(record, "model", limit=128, required=False) or None,
        "status": status,
        "outcome_reason": scrub(reason[:2000]) if isinstance(reason, str) else None,
        "times_shown": _int(record, "timesShown", 1, 1, 1_000_000),
        "created_at": _when(record, "createdAt"),
        "updated_at": _when(record, "updatedAt"),
    }


def _records(data: bytes, report: ImportReport) -> Iterator[tuple[str, Any]]:
    for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise Invalid("not a JSON object")
            kind = record.get("type")
            if kind == "header":
                version = record.get("version")
                if record.get("format") != FORMAT or not isinstance(version, int):
                    raise Unreadable(f"line {number}: not a {FORMAT} export")
                if version > FORMAT_VERSION:
                    raise Unreadable(
                        f"format version {version} is newer than this Kaizen "
                        f"reads ({FORMAT_VERSION}): upgrade Kaizen"
                    )
                continue
            if kind == "insight":
                yield kind, parse_insight(record)
            elif kind == "finding":
                yield kind, parse_finding(record)
            else:
                raise Invalid(f"unknown record type {kind!r}")
        except (ValueError, TypeError) as exc:  # Invalid and json errors alike
            report.skipped += 1
            report.problems.append(f"line {number}: {exc}")


def _merge_insight(conn: Any, entry: _Insight, embedder_name: str) -> tuple[int, bool]:
    """(id, inserted): add the occurrences to the same lesson, or insert it. Race-free on
    both backends: the UPDATE finds a committed row; the INSERT ... DO NOTHING loses to a
    concurrent insert, and the UPDATE then finds that row."""
    from sqlalchemy import case, update

    from .insights import insert_values
    from .schema import WorkflowInsight

    table: Any = WorkflowInsight.__table__
    item = entry.item
    where = (table.c.repository == item.repository) & (table.c.content_hash == item.content_hash)
    while True:
        merged = conn.execute(
            update(table)
            .where(where)
            .values(
                occurrences=table.c.occurrences + entry.occurrences,
                updated_at=case(
                    (table.c.updated_at < entry.updated_at, entry.updated_at),
                    else_=table.c.updated_at,
                ),
            )
            .returning(table.c.id)
        ).first()
        if merged is not None:
            return int(merged[0]), False
        inserted = conn.execute(
            dialect_insert(conn, table)
            .values(
                {
                    **insert_values(item, embedder_name, entry.recorded_by),
                    # the exported record keeps its own count and dates
                    "occurrences": entry.occurrences,
                    "created_at": entry.created_at,
                    "updated_at": entry.updated_at,
                }
            )
            .on_conflict_do_nothing(index_elements=["repository", "content_hash"])
            .returning(table.c.id)
        ).first()
        if inserted is not None:
            return int(inserted[0]), True


def _merge_finding(conn: Any, values: dict[str, Any]) -> None:
    """Insert the outcome, or set it on a finding still open there (a decision the target
    already holds wins)."""
    from .schema import FindingRow

    table: Any = FindingRow.__table__
    stmt = dialect_insert(conn, table).values(**values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["repository", "fingerprint"],
            set_={
                "status": stmt.excluded.status,
                "outcome_reason": stmt.excluded.outcome_reason,
                "updated_at": stmt.excluded.updated_at,
            },
            where=table.c.status == "open",
        )
    )


def _known_hashes(engine: Any, entries: list[_Insight]) -> set[tuple[str, str]]:
    from sqlalchemy import select, tuple_

    from .schema import WorkflowInsight

    keys = list({(e.item.repository, e.item.content_hash) for e in entries})
    with engine.connect() as conn:
        rows = conn.execute(
            select(WorkflowInsight.repository, WorkflowInsight.content_hash).where(
                tuple_(WorkflowInsight.repository, WorkflowInsight.content_hash).in_(keys)
            )
        )
        return {(r[0], r[1]) for r in rows}


def _import_batch(engine: Any, embedder: Any, batch: list[_Insight], report: ImportReport) -> None:
    from ..core.embed import insight_text
    from .db import writer
    from .search import index_insight

    # Embed (maybe a provider call) outside the transaction, and only what is new there.
    known = _known_hashes(engine, batch)
    fresh = [e for e in batch if (e.item.repository, e.item.content_hash) not in known]
    vectors = embedder.embed([insight_text(e.item.summary, e.item.detail) for e in fresh])
    vector_of = {id(e): v for e, v in zip(fresh, vectors, strict=True)}
    ordered = sorted(batch, key=lambda e: (e.item.repository, e.item.content_hash))
    with writer(engine).begin() as conn:
        for entry in ordered:
            insight_id, inserted = _merge_insight(conn, entry, embedder.name)
            if inserted:
                report.inserted += 1
                vector = vector_of.get(id(entry))
                if vector is not None:  # else the next ensure_index backfills it
                    index_insight(
                        conn, insight_id, entry.item.repository, entry.item.language, vector
                    )
            else:
                report.merged += 1


def import_lines(engine: Any, settings: Any, data: bytes, *, force: bool = False) -> ImportReport:
    """Merge an export into ``engine``'s database (migrated and indexed first)."""
    from .db import writer

    report = ImportReport()
    digest = hashlib.sha256(data).hexdigest()[:32]
    key = IMPORT_KEY.format(digest=digest)
    _, embedder = prepare(engine, settings)
    with engine.connect() as conn:
        seen = get_meta(conn, key)
    if seen is not None and not force:
        report.refused = (
            f"This file was imported on {seen}; its occurrences would be counted twice. "
            "Use --force to import it again."
        )
        return report
    try:
        records = list(_records(data, report))
    except Unreadable as exc:
        report.refused = f"Nothing imported: {exc}."
        return report
    if not records and report.skipped:
        first = f" ({report.problems[0]})" if report.problems else ""
        report.refused = (
            f"Nothing imported: none of the {report.skipped} lines is a valid {FORMAT} "
            f"record{first}."
        )
        return report
    batch: list[_Insight] = []
    findings: list[dict[str, Any]] = []
    for kind, value in records:
        if kind == "insight":
            batch.append(value)
            if len(batch) >= BATCH:
                _import_batch(engine, embedder, batch, report)
                batch = []
        else:
            findings.append(value)
    if batch:
        _import_batch(engine, embedder, batch, report)
    with writer(engine).begin() as conn:
        for values in sorted(findings, key=lambda v: (v["repository"], v["fingerprint"])):
            _merge_finding(conn, values)
            report.findings += 1
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        set_meta(conn, key, stamp)
    return report

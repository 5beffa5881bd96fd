"""The store: every read and write the pipelines and the editor face make, in one place.

Methods are synchronous (SQLAlchemy sessions); async callers run them with
``asyncio.to_thread``. Counters are incremented in SQL so concurrent servers never lose an
update, and every write is one short transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings, settings_for_database
from ..core.errors import KaizenError
from ..core.findings import Finding
from ..core.runs import FINAL, RunStatus, RunTotals
from ..core.tasks import PIPELINE_NAMES
from ..security.redact import scrub
from .db import create_db_engine, writer
from .meta import get_meta, set_meta
from .migrate import migrate
from .schema import FindingRow, ModelCall, Run, WorkflowInsight, utcnow

HOST = socket.gethostname()
IGNORED_AFTER = 3  # showings without any reaction that make a finding "ignored"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # ``sessions.begin()`` is for writes (BEGIN IMMEDIATE); ``session()`` for reads.
        self.write_engine = writer(engine)
        self.sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self.readers = sessionmaker(engine, expire_on_commit=False)
        # bumped by every outcome this process writes: what reads outcomes may cache them
        # until it changes (``memory.confidence.Outcomes``)
        self.outcome_generation = 0

    @classmethod
    def open(cls, location: str | Path | None) -> Store:
        """Open (creating and migrating as needed) and recover runs a crash left 'running'."""
        from sqlalchemy.exc import OperationalError

        engine = create_db_engine(location)
        try:
            migrate(engine)
        except OperationalError as exc:
            if "unable to open database file" not in str(exc):
                raise
            engine.dispose()
            raise KaizenError(
                f"cannot open the database {engine.url.database or location} (unable to open "
                "the file); set KAIZEN_HOME, KAIZEN_DATABASE or --database to a writable place"
            ) from None
        store = cls(engine)
        store.fail_orphaned_runs()
        return store

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        """A read session (deferred transaction: never waits for a writer under WAL)."""
        return self.readers()

    # runs -------------------------------------------------------------------------------

    def start_run(
        self, pipeline: str, uri: str, repository: str, language: str, version: int | None
    ) -> int:
        with self.sessions.begin() as s:
            run = Run(
                pipeline=pipeline,
                uri=uri,
                repository=repository,
                language=language,
                document_version=version,
                status=RunStatus.QUEUED.value,
                pid=os.getpid(),
                host=HOST,
            )
            s.add(run)
            s.flush()
            return run.id

    def set_status(self, run_id: int, status: RunStatus) -> None:
        with self.sessions.begin() as s:
            s.execute(update(Run).where(Run.id == run_id).values(status=status.value))

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        totals: RunTotals,
        *,
        findings: int = 0,
        error: str | None = None,
        insight_ids: Iterable[int] = (),
    ) -> None:
        with self.sessions.begin() as s:
            _finish(s, run_id, status, totals, findings, error, insight_ids)

    def fail_orphaned_runs(self) -> int:
        """Runs left unfinished by a process that is gone are marked failed, not 'running'."""
        final = [s.value for s in FINAL]
        with self.sessions.begin() as s:
            # Only this machine's runs: a pid means nothing on another host sharing the database.
            rows = s.execute(
                select(Run.id, Run.pid).where(
                    Run.status.not_in(final), or_(Run.host == HOST, Run.host.is_(None))
                )
            ).all()
            dead = [r.id for r in rows if r.pid != os.getpid() and not _pid_alive(r.pid)]
            if dead:
                s.execute(
                    update(Run)
                    .where(Run.id.in_(dead))
                    .values(
                        status=RunStatus.FAILED.value,
                        error="interrupted: the server stopped during this run",
                        finished_at=utcnow(),
                    )
                )
            return len(dead)

    def get_run(self, run_id: int) -> Run | None:
        with self.readers() as s:
            return s.get(Run, run_id)

    def recent_runs(self, limit: int = 20) -> list[Run]:
        with self.readers() as s:
            return list(s.scalars(select(Run).order_by(Run.id.desc()).limit(limit)))

    def record_call(
        self, run_id: int | None, outcome: Any, then: Callable[[Session], None] | None = None
    ) -> None:
        """One model attempt (a gateway CallOutcome); ``then`` writes what goes with it in
        the same transaction (its performance sample: one commit per call, not two)."""
        with self.sessions.begin() as s:
            # a Core insert: the ORM's unit of work costs twice the write (a check records
            # a call every few ms); the same row (tests/test_store_writes.py)
            s.execute(insert(ModelCall.__table__), _call_values(run_id, outcome))
            if then is not None:
                then(s)

    def calls(self, run_id: int) -> list[ModelCall]:
        with self.readers() as s:
            return list(s.scalars(select(ModelCall).where(ModelCall.run_id == run_id)))

    def spend_since(self, since: Any) -> float:
        with self.readers() as s:
            total = s.scalar(
                select(func.coalesce(func.sum(ModelCall.cost_usd), 0.0)).where(
                    ModelCall.created_at >= since
                )
            )
            return float(total or 0.0)

    # findings ---------------------------------------------------------------------------

    def save_findings(
        self,
        run_id: int | None,
        repository: str,
        uri: str,
        language: str,
        findings: list[Finding],
        *,
        shown: bool = True,
    ) -> list[str]:
        """Upsert by (repository, fingerprint); a finding shown again counts another showing.

        Returns the fingerprints that have now been shown IGNORED_AFTER times with no
        reaction (decided here, inside the write, so exactly one run reports each).
        ``shown=False`` (``kaizen check``, where nobody can act on a finding) records the
        finding without counting a showing: only the editor's "shown and not acted on"
        makes a finding ignored.
        """
        with self.sessions.begin() as s:
            return _save_findings(s, run_id, repository, uri, language, findings, shown)

    def complete_run(
        self,
        run_id: int,
        status: RunStatus,
        totals: RunTotals,
        *,
        error: str | None = None,
        insight_ids: Iterable[int] = (),
        calls: Iterable[Any] = (),
        findings: tuple[str, str, str, list[Finding]] | None = None,
        shown: bool = True,
        cache: tuple[str, str, str, dict[str, list[dict[str, Any]]], list[str]] | None = None,
        cache_max_rows: int = 50_000,
        versions: dict[str, tuple[str, str, list[str]]] | None = None,
    ) -> list[str]:
        """Everything a run leaves behind, in ONE write transaction: its model calls, its
        findings ((repository, uri, language, findings)), the unit review cache ((repository,
        path, pipeline, new entries, hits)) and its final status. Returns the fingerprints
        now shown often enough with no reaction to count as ignored (``save_findings``)."""
        from . import unit_cache

        ignored: list[str] = []
        count = 0
        with self.sessions.begin() as s:
            for outcome in calls:
                s.add(_call_row(run_id, outcome))
            if findings is not None:
                repository, uri, language, items = findings
                count = len(items)
                ignored = _save_findings(s, run_id, repository, uri, language, items, shown)
            if cache is not None:
                repository, path, pipeline, entries, hits = cache
                unit_cache.store(
                    s, repository, path, pipeline, entries, hits, cache_max_rows, versions
                )
            _finish(s, run_id, status, totals, count, error, insight_ids)
        return ignored

    def cached_units(
        self, repository: str, path: str, hashes: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """The unit review cache's findings for these unit hashes (a read, never waits)."""
        from . import unit_cache

        with self.readers() as s:
            return unit_cache.lookup(s, repository, path, hashes)

    def earlier_units(
        self, repository: str, path: str, answer_key: str, names: Iterable[str]
    ) -> dict[str, tuple[str, list[str], list[dict[str, Any]]]]:
        """The last used version of each of these units (changed-lines review; a read)."""
        from . import unit_cache

        with self.readers() as s:
            return unit_cache.earlier(s, repository, path, answer_key, names)

    def has_cached_units(self) -> bool:
        """Whether the unit review cache holds anything: with none, a run will call the
        model, so ``kaizen check`` starts importing litellm at once instead of on the first
        cache miss."""
        from .schema import UnitReview

        with self.readers() as s:
            return s.scalar(select(UnitReview.unit_hash).limit(1)) is not None

    def set_outcome(
        self,
        repository: str,
        fingerprint: str,
        status: str,
        reason: str | None = None,
        code: str | None = None,
    ) -> FindingRow | None:
        """A finding's outcome; ``code``: the flagged code of a dismissal (redacted here),
        what "like a dismissed finding" compares (``memory.dismissals.alike``)."""
        with self.sessions.begin() as s:
            row = s.scalar(
                select(FindingRow).where(
                    FindingRow.repository == repository, FindingRow.fingerprint == fingerprint
                )
            )
            if row is None:
                return None
            row.status = status
            row.outcome_reason = reason
            row.dismissed_code = scrub(code) if code and status == "rejected" else None
            row.updated_at = utcnow()
            self.outcome_generation += 1
            return row

    def finding(self, repository: str, fingerprint: str) -> FindingRow | None:
        with self.readers() as s:
            return s.scalar(
                select(FindingRow).where(
                    FindingRow.repository == repository, FindingRow.fingerprint == fingerprint
                )
            )

    def rejected_fingerprints(self, repository: str) -> set[str]:
        with self.readers() as s:
            return set(
                s.scalars(
                    select(FindingRow.fingerprint).where(
                        FindingRow.repository == repository, FindingRow.status == "rejected"
                    )
                )
            )

    def rejected_reasons(self, repository: str) -> dict[str, str | None]:
        """Dismissed fingerprints with the reason the user gave (None when none was)."""
        with self.readers() as s:
            rows = s.execute(
                select(FindingRow.fingerprint, FindingRow.outcome_reason).where(
                    FindingRow.repository == repository, FindingRow.status == "rejected"
                )
            )
            return {fp: reason for fp, reason in rows}

    def insight_summaries(self, insight_ids: list[int]) -> list[str]:
        with self.readers() as s:
            rows = s.scalars(select(WorkflowInsight).where(WorkflowInsight.id.in_(insight_ids)))
            return [row.summary for row in rows]

    # per-workspace model choices (kaizen.setModel) -----------------------------------------

    @staticmethod
    def _choice_key(workspace: str, pipeline: str) -> str:
        return f"choice:{hashlib.sha1(workspace.encode()).hexdigest()[:16]}:{pipeline}"

    def save_choice(self, workspace: str, pipeline: str, choice: dict[str, Any]) -> None:
        with self.sessions.begin() as s:
            set_meta(s.connection(), self._choice_key(workspace, pipeline), json.dumps(choice))

    def load_choices(self, workspace: str) -> dict[str, dict[str, Any]]:
        out = {}
        with self.readers() as s:
            for pipeline in PIPELINE_NAMES:
                value = get_meta(s.connection(), self._choice_key(workspace, pipeline))
                if value is not None:
                    out[pipeline] = json.loads(value)
        return out

    def set_pr(self, repository: str, fingerprint: str, url: str, number: int) -> None:
        with self.sessions.begin() as s:
            s.execute(
                update(FindingRow)
                .where(FindingRow.repository == repository, FindingRow.fingerprint == fingerprint)
                .values(pr_url=url, pr_number=number, updated_at=utcnow())
            )


def _finish(
    s: Session,
    run_id: int,
    status: RunStatus,
    totals: RunTotals,
    findings: int,
    error: str | None,
    insight_ids: Iterable[int],
) -> None:
    """A run's final row: status, what it cost, how many findings, why it failed."""
    runs = Run.__table__  # a Core update: the ORM's session synchronisation costs ~0.3 ms
    s.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            status=status.value,
            provider=totals.provider,
            model=totals.model,
            prompt_tokens=totals.prompt_tokens,
            completion_tokens=totals.completion_tokens,
            cost_usd=totals.cost_usd,
            latency_ms=totals.latency_ms,
            findings_count=findings,
            error=error,
            insight_ids=list(insight_ids),
            finished_at=utcnow(),
        )
    )


def _call_row(run_id: int | None, outcome: Any) -> ModelCall:
    return ModelCall(**_call_values(run_id, outcome))


def _call_values(run_id: int | None, outcome: Any) -> dict[str, Any]:
    return dict(
        run_id=run_id,
        task=outcome.task,
        provider=outcome.target.provider,
        model=outcome.target.model,
        status=outcome.status,
        reached=bool(getattr(outcome, "reached", True)),
        error=outcome.error,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        cost_usd=outcome.cost_usd,
        latency_ms=outcome.latency_ms,
        **predicted_columns(getattr(outcome, "predicted", None)),
    )


def _save_findings(
    s: Session,
    run_id: int | None,
    repository: str,
    uri: str,
    language: str,
    findings: list[Finding],
    shown: bool = True,
) -> list[str]:
    """The upsert of ``save_findings`` inside the caller's transaction."""
    ignored: list[str] = []
    if not findings:
        return ignored
    # the three columns the upsert reads, not whole rows: a save re-saves every finding it
    # shows, and loading each as an ORM object (message, rationale, fix) cost most of it
    existing = {
        row.fingerprint: row
        for row in s.execute(
            select(
                FindingRow.id, FindingRow.fingerprint, FindingRow.status, FindingRow.times_shown
            ).where(
                FindingRow.repository == repository,
                FindingRow.fingerprint.in_([f.fingerprint for f in findings]),
            )
        )
    }
    updates: list[dict[str, Any]] = []
    for f in findings:
        values: dict[str, Any] = {
            "run_id": run_id,
            "pipeline": f.pipeline,
            "uri": uri,
            "language": language,
            "category": f.category,
            "code": (f.code or f.category)[:64],
            "severity": f.severity,
            "start_line": f.start_line,
            "end_line": f.end_line,
            "message": f.message,
            "rationale": f.rationale,
            "origin": f.origin,
            "model": f.model,
            "updated_at": utcnow(),
            "fix": _fix_json(f),
        }
        if (row := existing.get(f.fingerprint)) is not None:
            if shown and row.status == "open" and row.times_shown + 1 == IGNORED_AFTER:
                ignored.append(f.fingerprint)
            updates.append({"row_id": row.id, **values})
        else:
            times = {} if shown else {"times_shown": 0}
            s.add(FindingRow(fingerprint=f.fingerprint, repository=repository, **values, **times))
    if updates:  # one executemany, not one ORM UPDATE per finding (a save re-saves them all)
        table = FindingRow.__table__
        stmt = update(table).where(table.c.id == bindparam("row_id"))
        if shown:
            stmt = stmt.values(times_shown=table.c.times_shown + 1)
        s.execute(stmt, updates)
    return ignored


def predicted_columns(prediction: Any) -> dict[str, Any]:
    if prediction is None:
        return {}
    return {
        "predicted_prompt_tokens": prediction.prompt_tokens,
        "predicted_completion_tokens": prediction.completion_tokens,
        "predicted_cost_usd": prediction.cost_usd,
    }


def _fix_json(f: Finding) -> dict[str, Any] | None:
    if not f.edits:
        return None
    return {
        "title": f.fix_title,
        "edits": [[e.start_line, e.start_col, e.end_line, e.end_col, e.new_text] for e in f.edits],
    }


def open_configured(
    database: str | None = None, root: Path | None = None
) -> tuple[Settings, Store]:
    """The settings for ``--database`` (see ``config.settings_for_database``) and the store
    they name, opened: the one way the CLI, MCP and HTTP faces open their database."""
    settings, _ = settings_for_database(database, root)
    return settings, Store.open(settings.database_path)

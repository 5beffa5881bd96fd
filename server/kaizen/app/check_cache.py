"""``kaizen check``'s result cache: a re-run of unchanged code answered without planning a
file, importing the pipelines or opening the database.

The unit review cache already spares a re-run every model call; what it still paid was
start-up (SQLAlchemy, the pipelines), planning every file again and the database's reads
and writes: ~30% of the first run. This cache keeps a whole check's results (findings
shown, suppressed and hidden, notices, unit counts) under a key of everything they depend
on (``check_key``): a re-run whose key, files and database are all as the last run left
them prints those results; anything else runs the normal path, which stores a new entry.

Kept beside the SQLite database (``check-cache/``, one small JSON file per command line and
directory, the oldest dropped past ``KEPT``); deleting it loses nothing but speed.
``--no-check-cache`` ignores it. Results are stored as a re-run would report them: every
unit from the cache, no tokens, no cost; a run that could not review everything (a failed
model, an unanswered unit, an interruption, a path that could not be read) stores nothing.
A re-run answered here records no run in the database (nothing happened to record).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..core.document import Document
from ..core.findings import Edit, Finding
from ..core.runs import RunResult, RunStatus, RunTotals
from . import check_key

log = logging.getLogger(__name__)

FORMAT = 1
KEPT = 64  # entries kept (command lines and directories); the oldest go first


@dataclass
class Identity:
    """One check as the command line and the directory name it; ``key`` and ``files``
    (each file's digest and diff lines) are what its results depend on."""

    db: Path
    name: str  # the entry's file name
    key: dict[str, str]  # a digest per part of what the results depend on (``check_key``)
    files: list[list[Any]]


def location(db: Path) -> Path:
    return db.with_name("check-cache")


def _name(db: Path, invocation: Any) -> str:
    raw = json.dumps([str(db), os.getcwd(), invocation], sort_keys=True, default=str)
    return hashlib.sha1(raw.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def identity(
    settings: Settings,
    docs: list[Document],
    invocation: Any,
    files: list[Path],
    written: Sequence[Path] = (),
) -> Identity | None:
    """The key of a check of ``docs`` (read from ``files``, in order) under ``settings``;
    None when this check cannot be cached (not SQLite, the unit cache off or not used, a
    file outside any project, whose packs could read anything). ``written``: files the
    check itself writes (its report), which are no input of it."""
    review = settings.review
    db = check_key.database_file(settings.database_path)
    if db is None or not review.cache or review.scope != "changed":
        return None
    roots = {d.root for d in docs}
    if not docs or None in roots:
        return None
    from .check_run import prime_ignores

    prime_ignores(docs)  # which files git ignores: part of each file's key below
    by_root = sorted({d.root for d in docs if d.root is not None})
    leave_out = [db, location(db), *written]
    workspace = [(str(root), check_key.workspace_digest(root, leave_out)) for root in by_root]
    per_file = [
        [
            str(d.path),
            check_key.file_digest(d.text.encode("utf-8", "surrogatepass")),
            sorted(d.changed) if d.changed is not None else None,
            d.not_sent_reason,
            d.repository,
        ]
        for d in docs
    ]
    key = check_key.environment_digest(settings, by_root, [invocation, [str(f) for f in files]])
    key["workspace"] = check_key.digest(workspace)
    return Identity(db, _name(db, invocation), key, per_file)


def lookup(ident: Identity) -> list[tuple[int, RunResult]] | None:
    """The stored results (index of the document, result) if nothing they depend on has
    changed since they were stored; None otherwise."""
    path = location(ident.db) / f"{ident.name}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        stamp, taken = entry["database"], int(entry["stampedAt"])
        why = (
            "another format"
            if entry.get("format") != FORMAT
            else _changed(entry["key"], ident.key)
            if entry["key"] != ident.key
            else "the files changed"
            if entry["files"] != ident.files
            else "the database was stamped too soon after a write"
            if not check_key.trustworthy(stamp, taken)
            else "the database changed"
            if check_key.database_stamp(ident.db) != stamp
            else None
        )
        if why is not None:
            log.info("the check cache does not answer: %s", why)
            return None
        return [(int(i), result_from(r)) for i, r in entry["results"]]
    except Exception:  # an entry of another shape (edited, truncated): run normally
        log.info("ignored an unreadable check cache entry %s", path)
        return None


def _changed(before: dict[str, str], now: dict[str, str]) -> str:
    names = sorted(n for n in {*before, *now} if before.get(n) != now.get(n))
    return f"changed: {', '.join(names)}"


def storable(result: RunResult) -> bool:
    """A result a re-run would repeat: the run succeeded and reviewed all it sent (a
    notice of a run that called a model may be about those calls: not repeated)."""
    return (
        result.status == RunStatus.SUCCEEDED
        and result.error is None
        and result.units_answered == result.units_reviewed
        and not (result.units_reviewed and result.notices)
    )


def store(ident: Identity, results: list[tuple[int, RunResult]]) -> bool:
    """Keep ``results`` (index of the document, result) for the next run with the same
    identity, stamped with the database as it is now (call after closing it)."""
    settled = check_key.stamp_when_settled(ident.db)
    if settled is None:
        return False
    folder = location(ident.db)
    entry = {
        "format": FORMAT,
        "key": ident.key,
        "files": ident.files,
        "database": settled[0],
        "stampedAt": settled[1],
        "results": [[i, result_json(r)] for i, r in results],
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{ident.name}.json"
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(entry), encoding="utf-8")
        os.replace(partial, target)
        _prune(folder)
    except OSError as exc:  # a cache that cannot be written costs speed, nothing else
        log.info("could not keep the check's results: %s", exc)
        return False
    return True


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    for old in entries[: max(0, len(entries) - KEPT)]:
        old.unlink(missing_ok=True)


def result_json(result: RunResult) -> dict[str, Any]:
    """``result`` as a re-run of unchanged code would report it: every unit it reviewed or
    took from the cache now from the cache, no model called."""
    return {
        "pipeline": result.pipeline,
        "status": result.status.value,
        "notices": list(result.notices),
        "unitsCached": result.units_cached + result.units_answered,
        "unitsSkipped": result.units_skipped,
        "findings": [dataclasses.asdict(f) for f in result.findings],
        "suppressed": [dataclasses.asdict(f) for f in result.suppressed],
        "hidden": [dataclasses.asdict(f) for f in result.hidden],
    }


def _finding(raw: dict[str, Any]) -> Finding:
    data = dict(raw)
    data["edits"] = [Edit(**e) for e in data.get("edits") or []]
    return Finding(**data)


def result_from(raw: dict[str, Any]) -> RunResult:
    return RunResult(
        pipeline=raw["pipeline"],
        status=RunStatus(raw["status"]),
        notices=list(raw["notices"]),
        totals=RunTotals(),
        units_cached=int(raw["unitsCached"]),
        units_skipped=int(raw["unitsSkipped"]),
        findings=[_finding(f) for f in raw["findings"]],
        suppressed=[_finding(f) for f in raw["suppressed"]],
        hidden=[_finding(f) for f in raw["hidden"]],
    )

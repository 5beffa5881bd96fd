"""``kaizen check``: the editor's pipeline over files, reported like a linter.

Text (``path:line:col: severity [category] message (model)``), JSON, or SARIF 2.1.0 for
GitHub code scanning. Exit status 0 clean, 1 findings, 2 when anything asked for could not
be reviewed (a missing or unreadable path, a model that failed): then every format says so
(text: ``Not reviewed:`` lines; JSON: ``complete: false`` and ``errors``; SARIF:
``executionSuccessful: false`` with ``toolExecutionNotifications``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..app.check_run import DEFAULT_JOBS, Progress, in_shard
from ..core.document import Document
from ..core.findings import Finding
from ..core.runs import RunResult, RunStatus
from ..core.workspace import LANGUAGES
from .common import cli_settings, editor_overrides, read_document
from .cost import predicted_cost_line
from .progress import ProgressDisplay

if TYPE_CHECKING:  # imported when a check runs the pipelines (not when its cache answers)
    from ..app.check_cache import Identity
    from ..app.services import Services

log = logging.getLogger(__name__)
SKIP_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "build",
    "dist",
    ".tox",
}
FULL_COLLECTION_AFTER = 100  # younger collections between full ones (Python's default: 10)
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note", "hint": "note"}


def iter_files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            yield path
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if (
                    child.is_file()
                    and child.suffix.lower() in LANGUAGES
                    and not (SKIP_DIRS & set(child.relative_to(path).parts[:-1]))
                ):
                    yield child
        # a missing path is reported by ``not_reviewed``


def load_documents(files: list[Path]) -> list[Document]:
    docs = []
    for path in files:
        doc = read_document(path)
        if not isinstance(doc, str):  # an unreadable file is reported by ``not_reviewed``
            docs.append(doc)
    return docs


def scoped_documents(
    files: list[Path], changed: dict[Path, frozenset[int]] | None
) -> list[Document]:
    """The readable ``files`` as documents, each with the lines a diff touched (``--diff``)."""
    docs = load_documents(files)
    if changed is not None:
        docs = [replace(d, changed=changed.get(d.path, frozenset())) for d in docs]
    return docs


async def check_files(
    services: Services,
    docs: list[Document],
    pipelines: list[str],
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
    on_change: Any = None,
    done: list[tuple[Document, RunResult]] | None = None,
) -> list[tuple[Document, RunResult]]:
    """Review ``docs`` concurrently; notices printed once each, results in file order."""
    from ..app.check_run import review_documents

    results = await review_documents(services, docs, pipelines, jobs, progress, on_change, done)
    print_notices(results)
    return results


def print_notices(results: list[tuple[Document, RunResult]]) -> None:
    seen: set[str] = set()
    for _, result in results:
        for notice in result.notices:  # errors are the report's (see ``not_reviewed``)
            if notice not in seen and notice != result.error:
                seen.add(notice)
                print(f"kaizen: {notice}", file=sys.stderr)


def only_changed_lines(results: list[tuple[Document, RunResult]]) -> None:
    """``--diff``: keep the findings on lines the diff touched (and count only the
    suppressed findings there)."""
    for doc, result in results:
        if doc.changed is None:
            continue
        result.findings, result.suppressed = (
            [f for f in found if any(n in doc.changed for n in range(f.start_line, f.end_line + 1))]
            for found in (result.findings, result.suppressed)
        )


def summary_line(files: int, progress: Progress) -> str:
    """``37 files, 0 reviewed, 112 cached`` (units; "reviewed" only when a model answered,
    units it did not are ``not answered``), with tokens and cost when spent."""
    line = (
        f"{files} file{'s' if files != 1 else ''}, {progress.reviewed} reviewed, "
        f"{progress.cached} cached"
    )
    if progress.unanswered:  # sent, but no model answered: not reviewed
        line += f", {progress.unanswered} not answered"
    tokens = progress.prompt_tokens + progress.completion_tokens
    if tokens:
        line += f", {tokens:,} tokens"
    if progress.cost_usd:
        line += f", ${progress.cost_usd:.4f}"
    return line


def display_path(doc: Document) -> str:
    try:
        return str(doc.path.relative_to(Path.cwd()))
    except ValueError:
        return str(doc.path)


def text_line(doc: Document, f: Finding) -> str:
    col = (
        f.start_col
        if f.start_col is not None
        else len(doc.lines[f.start_line - 1]) - len(doc.lines[f.start_line - 1].lstrip())
    ) + 1
    source = f.model if f.origin == "model" else f.origin
    return (
        f"{display_path(doc)}:{f.start_line}:{col}: {f.severity} [{f.code or f.category}] "
        f"{f.message} ({source})"
    )


def finding_json(doc: Document, f: Finding) -> dict[str, Any]:
    return {
        "path": display_path(doc),
        "fingerprint": f.fingerprint,
        "pipeline": f.pipeline,
        "line": f.start_line,
        "endLine": f.end_line,
        "column": (f.start_col or 0) + 1,
        "severity": f.severity,
        "category": f.category,
        "code": f.code,
        "message": f.message,
        "rationale": f.rationale,
        "origin": f.origin,
        "model": f.model,
        "title": f.title,
        "confidence": f.confidence,
        "fix": [
            {
                "line": e.start_line + 1,
                "column": e.start_col + 1,
                "endLine": e.end_line + 1,
                "endColumn": e.end_col + 1,
                "newText": e.new_text,
            }
            for e in f.edits
        ]
        or None,
    }


@dataclass(frozen=True)
class NotReviewed:
    """Something ``kaizen check`` was asked to review and could not: a missing or unreadable
    path, a run whose model failed. Any of them makes the result incomplete (exit 2)."""

    path: str
    message: str
    pipeline: str | None = None

    def text(self) -> str:
        where = f"{self.path} ({self.pipeline})" if self.pipeline else self.path
        return f"{where}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "pipeline": self.pipeline, "message": self.message}


def not_reviewed(
    paths: list[str], files: list[Path], results: list[tuple[Document, RunResult]]
) -> list[NotReviewed]:
    out = [NotReviewed(raw, "no such file or directory") for raw in paths if not Path(raw).exists()]
    read = {doc.path for doc, _ in results}
    for path in files:
        if path.resolve() not in read and isinstance(why := read_document(path), str):
            out.append(NotReviewed(str(path), why.removeprefix(f"{path}: ")))
    out += [
        NotReviewed(display_path(doc), r.error or "the run failed", r.pipeline)
        for doc, r in results
        if r.status == RunStatus.FAILED
    ]
    return out


def sarif(
    results: list[tuple[Document, RunResult]], problems: Sequence[NotReviewed] = ()
) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    sarif_results: list[dict[str, Any]] = []
    for doc, result in results:
        for f in [*result.findings, *result.suppressed]:
            rule_id = f.code or f.category
            rule = rules.setdefault(rule_id, {"id": rule_id, "shortDescription": {"text": rule_id}})
            if f.code_url:
                rule["helpUri"] = f.code_url
            region: dict[str, Any] = {"startLine": f.start_line, "endLine": f.end_line}
            if f.start_col is not None:
                region["startColumn"] = f.start_col + 1
            if f.end_col is not None:
                region["endColumn"] = f.end_col + 1
            sarif_results.append(
                {
                    "ruleId": rule_id,
                    "level": SARIF_LEVEL.get(f.severity, "warning"),
                    "message": {"text": f.message + (f"\n{f.rationale}" if f.rationale else "")},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": display_path(doc).replace("\\", "/")},
                                "region": region,
                            }
                        }
                    ],
                    "partialFingerprints": {"kaizen/v1": f.fingerprint},
                    "properties": {
                        "origin": f.origin,
                        "model": f.model,
                        "pipeline": f.pipeline,
                        **({"suppressedBy": f.suppressed_by} if f.suppressed_by else {}),
                    },
                    **({"fixes": [sarif_fix(doc, f)]} if f.edits else {}),
                    # dismissed before: kept in the log, marked so code scanning closes it
                    **(
                        {"suppressions": [{"kind": "external", "justification": f.suppressed}]}
                        if f.suppressed
                        else {}
                    ),
                }
            )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kaizen",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/kaizen-lsp/",
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [invocation(problems)],
                "results": sarif_results,
                "properties": {"suppressed": suppression_summary(results)},
            }
        ],
    }


def sarif_fix(doc: Document, f: Finding) -> dict[str, Any]:
    """The finding's quick fix as SARIF's ``fix`` (1-based lines and columns)."""
    return {
        "description": {"text": f.fix_title or f"Fix {f.code or f.category}"},
        "artifactChanges": [
            {
                "artifactLocation": {"uri": display_path(doc).replace("\\", "/")},
                "replacements": [
                    {
                        "deletedRegion": {
                            "startLine": e.start_line + 1,
                            "startColumn": e.start_col + 1,
                            "endLine": e.end_line + 1,
                            "endColumn": e.end_col + 1,
                        },
                        "insertedContent": {"text": e.new_text},
                    }
                    for e in f.edits
                ],
            }
        ],
    }


def invocation(problems: Sequence[NotReviewed]) -> dict[str, Any]:
    """SARIF's place for "the tool could not do all of its job": code scanning shows a
    run with ``executionSuccessful`` false as failed instead of as a clean result."""
    notes = [
        {
            "level": "error",
            "message": {"text": p.text()},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": p.path.replace("\\", "/")}}}
            ],
        }
        for p in problems
    ]
    out: dict[str, Any] = {"executionSuccessful": not problems}
    if notes:
        out["toolExecutionNotifications"] = notes
    return out


def render(
    results: list[tuple[Document, RunResult]],
    fmt: str,
    problems: Sequence[NotReviewed] = (),
    show_suppressed: bool = False,
) -> str:
    if fmt == "sarif":
        return json.dumps(sarif(results, problems), indent=2)
    if fmt == "json":
        hidden = [
            {**finding_json(doc, f), "suppressed": f.suppressed, "suppressedBy": f.suppressed_by}
            for doc, r in results
            for f in (r.suppressed if show_suppressed else [])
        ]
        return json.dumps(
            {
                "findings": [finding_json(doc, f) for doc, r in results for f in r.findings]
                + hidden,
                "complete": not problems,
                "errors": [p.as_json() for p in problems],
                "suppressed": suppression_summary(results),
            },
            indent=2,
        )
    ordered = sorted(
        ((doc, f) for doc, r in results for f in r.findings),
        key=lambda pair: (display_path(pair[0]), pair[1].start_line, pair[1].start_col or 0),
    )
    lines = [text_line(doc, f) for doc, f in ordered]
    total = len(lines)
    found = f"Found {total} finding{'s' if total != 1 else ''}"
    lines += [f"Not reviewed: {p.text()}" for p in problems]
    if problems:
        count = len(problems)
        lines.append(
            f"{found}; {count} review{'s' if count != 1 else ''} could not be done "
            "(the result is incomplete)."
        )
    else:
        lines.append(f"{found}." if total else "No findings.")
    if show_suppressed:
        lines.extend(suppressed_lines(results))
    elif summary := suppression_line(results):
        lines.append(summary)
    return "\n".join(lines)


def suppression_summary(results: list[tuple[Document, RunResult]]) -> dict[str, Any]:
    """How many findings were not reported because of a dismissal, and which dismissals
    (by fingerprint, with the reason and how many each hid): JSON's and SARIF's account."""
    by: dict[str, dict[str, Any]] = {}
    for _, r in results:
        for f in r.suppressed:
            key = f.suppressed_by or f.fingerprint
            entry = by.setdefault(key, {"dismissal": key, "count": 0, "reason": None})
            entry["count"] += 1
            if key == f.fingerprint and f.suppressed != "dismissed":  # the dismissed one itself
                entry["reason"] = f.suppressed
    dismissals = sorted(by.values(), key=lambda e: (-e["count"], e["dismissal"]))
    return {"total": sum(e["count"] for e in dismissals), "byDismissal": dismissals}


def suppression_line(results: list[tuple[Document, RunResult]]) -> str | None:
    """Text's account: ``Suppressed 3 findings by 2 dismissals: 2 by FP (why), 1 by FP.``"""
    summary = suppression_summary(results)
    if not summary["total"]:
        return None
    n, by = summary["total"], summary["byDismissal"]
    parts = ", ".join(f"{e['count']} by {e['dismissal']}" for e in by)
    return (
        f"Suppressed {n} finding{'s' if n != 1 else ''} by {len(by)} "
        f"dismissal{'s' if len(by) != 1 else ''}: {parts} "
        "(--show-suppressed lists them; `kaizen undismiss FINGERPRINT` undoes one)."
    )


def suppressed_lines(results: list[tuple[Document, RunResult]]) -> list[str]:
    """``--show-suppressed``: what was not reported because the user dismissed it."""
    hidden = [(doc, f) for doc, r in results for f in r.suppressed]
    if not hidden:
        return ["No suppressed findings."]
    out = [f"Suppressed ({len(hidden)}, dismissed before):"]
    for doc, f in hidden:
        where = text_line(doc, f).split(f": {f.severity} [", 1)[0]
        by = f" [dismissal {f.suppressed_by}]" if f.suppressed_by else ""
        out.append(
            f"  {where}: suppressed [{f.code or f.category}] {f.message} ({f.suppressed}){by}"
        )
    if summary := suppression_line(results):
        out.append(summary)
    return out


def select_files(args: argparse.Namespace) -> tuple[list[Path], dict[Path, frozenset[int]] | None]:
    """The files to check: the paths given (default ``.``), only those a diff touched with
    ``--diff``, then this shard's with ``--shard I/N``. Raises ``CheckError`` when that
    cannot be worked out (bad --shard, no git)."""
    from ..app.git_diff import DiffError, changed_lines, repository_root

    files = list(iter_files(args.paths or ["."]))
    changed = None
    if args.diff is not None:
        try:
            root = repository_root(Path.cwd())
            changed = changed_lines(root, args.diff or None)
        except DiffError as exc:
            raise CheckError(str(exc)) from None
        files = [f for f in files if f.resolve() in changed]
    if args.shard:
        index, total = parse_shard(args.shard)
        files = [f for f in files if in_shard(f, index, total)]
    return files, changed


class CheckError(Exception):
    """The check cannot start; the message names the option or path involved."""


def parse_shard(text: str) -> tuple[int, int]:
    index, sep, total = text.partition("/")
    if not (sep and index.isdigit() and total.isdigit() and 1 <= int(index) <= int(total)):
        raise CheckError(f"--shard {text}: expected I/N with 1 <= I <= N, e.g. --shard 2/4")
    return int(index), int(total)


def litellm_needed_ahead(services: Services, pipelines: list[str], files: list[Path]) -> bool:
    """Whether to start litellm's import (seconds of CPU) on a thread now, so it overlaps
    reading and planning the files: only when the run will call a model, i.e. one is
    configured and the unit review cache cannot answer (off, or empty). A re-run the cache
    answers never imports it; a partly cached run imports it on its first model call."""
    if not files or not services.router.may_call(pipelines):
        return False
    store = services.store
    return not (services.settings.review.cache and store is not None and store.has_cached_units())


def run_check(args: argparse.Namespace) -> int:
    settings = cli_settings(editor_overrides(args))
    # --jobs bounds requests in flight too (a large file's batches run side by side), never
    # above the provider limit the settings give
    settings.models.max_concurrency = min(settings.models.max_concurrency, max(1, args.jobs))
    try:
        files, changed = select_files(args)
    except CheckError as exc:
        print(f"kaizen: {exc}", file=sys.stderr)
        return 2
    # A check lives for one run. Each full collection walks every object alive, and
    # litellm's import makes a million of them: 9-10 full collections (0.5-0.7 s of CPU on
    # 100 files) became 1 when they wait for 100 younger collections instead of 10 (peak
    # RSS unchanged).
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, FULL_COLLECTION_AFTER)
    pipelines = ["autofix", "refactor"] if args.pipeline == "all" else [args.pipeline]
    docs = scoped_documents(files, changed)
    ident = check_identity(args, settings, docs, files, pipelines)
    progress = Progress()
    display = ProgressDisplay.for_terminal(args.quiet)
    cached = None
    if ident is not None and not getattr(args, "no_check_cache", False):
        from ..app.check_cache import lookup

        cached = lookup(ident)
    interrupted = False
    if cached is not None:  # nothing the results depend on changed since the last run
        results = [(docs[i], result) for i, result in cached]
        progress.files = progress.done = len(docs)
        progress.cached = sum(r.units_cached for _, r in results)
        print_notices(results)
        keep = False
    else:
        results, interrupted, keep = review_files(
            args, settings, docs, files, pipelines, progress, display, ident
        )
    problems = not_reviewed(args.paths or ["."], files, results) if not interrupted else []
    if keep and ident is not None and not problems:  # kept before --diff's line filter
        from ..app.check_cache import storable, store

        if all(storable(r) for _, r in results):
            index = {id(doc): i for i, doc in enumerate(docs)}
            store(ident, [(index[id(doc)], r) for doc, r in results])
        else:
            log.info("the check's results are not kept: a run did not review all it sent")
    elif ident is not None and cached is None:
        log.info(
            "the check's results are not kept (interrupted, incomplete or the database "
            "changed meanwhile)"
        )
    if changed is not None and not args.all_findings:
        only_changed_lines(results)
    return report(args, files, results, problems, progress, display, interrupted)


def check_identity(
    args: argparse.Namespace,
    settings: Any,
    docs: list[Document],
    files: list[Path],
    pipelines: list[str],
) -> Identity | None:
    """The result cache's key for this check, or None when it cannot be cached."""
    if not docs:
        return None
    from ..app.check_cache import identity

    invocation = [pipelines, args.paths or ["."], args.shard, args.diff]
    try:
        written = [Path(args.output).resolve()] if args.output else []
        return identity(settings, docs, invocation, files, written)
    except OSError as exc:  # a workspace that cannot be walked: run without the cache
        print(f"kaizen: the check cache is not used ({exc})", file=sys.stderr)
        return None


def review_files(
    args: argparse.Namespace,
    settings: Any,
    docs: list[Document],
    files: list[Path],
    pipelines: list[str],
    progress: Progress,
    display: ProgressDisplay,
    ident: Identity | None,
) -> tuple[list[tuple[Document, RunResult]], bool, bool]:
    """The pipelines on every document: (results in file order, interrupted, whether the
    results may be kept for the next run: the database they were read from is the one the
    cache is stamped with, and no outcome was recorded by anyone while they were made)."""
    from ..app.check_key import outcomes_digest
    from ..app.services import Services

    services = Services(settings)
    services.open_store()
    # what is loaded by now lives as long as the process: out of the cyclic collector's
    # view, so its full collections during the run walk only what the run makes
    gc.freeze()
    if services.store_error:
        print(f"kaizen: {services.store_error}", file=sys.stderr)
    keep = ident is not None and services.store is not None and not services.store_error
    if keep and ident is not None and services.store is not None:
        opened = services.store.engine.url.database
        keep = opened is not None and Path(opened).resolve() == ident.db.resolve()
    outcomes = outcomes_digest(ident.db) if keep and ident is not None else None
    if litellm_needed_ahead(services, pipelines, files):
        from ..models.lazy_litellm import warm_up_in_background

        warm_up_in_background(freeze=False)
    done: list[tuple[Document, RunResult]] = []
    interrupted = False
    try:
        with display:
            results = asyncio.run(
                check_files(
                    services,
                    docs,
                    pipelines,
                    max(1, args.jobs),
                    progress,
                    display.update,
                    done,
                )
            )
    except KeyboardInterrupt:  # what finished is reported (and was recorded)
        interrupted = True
        order = {path.resolve(): i for i, path in enumerate(files)}
        results = sorted(done, key=lambda pair: order.get(pair[0].path, len(order)))
        print_notices(results)
    finally:
        if services.store is not None:
            services.store.close()
    if keep and ident is not None:  # a write that failed: what the run learned is lost
        same = outcomes is not None and outcomes_digest(ident.db) == outcomes
        keep = same and not progress.storage_faults
    return results, interrupted, keep and not interrupted


def report(
    args: argparse.Namespace,
    files: list[Path],
    results: list[tuple[Document, RunResult]],
    problems: list[NotReviewed],
    progress: Progress,
    display: ProgressDisplay,
    interrupted: bool,
) -> int:
    """Print the report and the summary lines; the exit status."""
    text = render(results, args.format, problems, getattr(args, "show_suppressed", False))
    if hidden := sum(len(r.hidden) for _, r in results):
        print(
            f"kaizen: {hidden} finding{'s' if hidden != 1 else ''} hidden: this repository's "
            "history says they are rarely worth it (review.minConfidence; "
            "`kaizen learnings confidence` lists the kinds)",
            file=sys.stderr,
        )
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    if args.output or args.format != "text":  # the report is not on screen: say it here
        for problem in problems:
            print(f"kaizen: not reviewed: {problem.text()}", file=sys.stderr)
    if args.stats or (display.enabled and not args.quiet):
        print(f"kaizen: {summary_line(len(files), progress)}", file=sys.stderr)
    if not args.quiet and (line := predicted_cost_line(results)):
        print(line, file=sys.stderr)
    if interrupted:
        finished = len({doc.path for doc, _ in results})
        print(f"kaizen: interrupted: {finished} of {len(files)} files finished", file=sys.stderr)
        return 130
    if problems:
        return 2
    return 1 if any(r.findings for _, r in results) else 0

"""``kaizen check``: the editor's pipeline over files, reported like a linter.

Text (``path:line:col: severity [category] message (model)``), JSON, or SARIF 2.1.0 for
GitHub code scanning. Exit status 1 when anything was found, 2 when nothing could run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from ..app.services import Services
from ..config import load_settings
from ..core.document import Document
from ..core.findings import Finding
from ..core.workspace import LANGUAGES
from ..pipelines.base import RunResult
from .common import editor_overrides, read_document

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
        else:
            print(f"kaizen: {raw}: no such file or directory", file=sys.stderr)


async def check_files(
    services: Services, files: list[Path], pipelines: list[str]
) -> list[tuple[Document, RunResult]]:
    from ..pipelines import registry

    results: list[tuple[Document, RunResult]] = []
    notices: set[str] = set()
    for path in files:
        doc = read_document(path)
        if isinstance(doc, str):
            print(f"kaizen: {doc}", file=sys.stderr)
            continue
        for pipeline in pipelines:
            result = await registry.run(pipeline, doc, services.context())
            for notice in [*result.notices, *([result.error] if result.error else [])]:
                if notice not in notices:
                    notices.add(notice)
                    print(f"kaizen: {notice}", file=sys.stderr)
            results.append((doc, result))
    return results


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
        "fix": [[e.start_line, e.start_col, e.end_line, e.end_col, e.new_text] for e in f.edits]
        or None,
    }


def sarif(results: list[tuple[Document, RunResult]]) -> dict[str, Any]:
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
                    "properties": {"origin": f.origin, "model": f.model, "pipeline": f.pipeline},
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
                "results": sarif_results,
            }
        ],
    }


def render(
    results: list[tuple[Document, RunResult]], fmt: str, show_suppressed: bool = False
) -> str:
    if fmt == "sarif":
        return json.dumps(sarif(results), indent=2)
    if fmt == "json":
        hidden = [
            {**finding_json(doc, f), "suppressed": f.suppressed}
            for doc, r in results
            for f in (r.suppressed if show_suppressed else [])
        ]
        return json.dumps(
            [finding_json(doc, f) for doc, r in results for f in r.findings] + hidden, indent=2
        )
    ordered = sorted(
        ((doc, f) for doc, r in results for f in r.findings),
        key=lambda pair: (display_path(pair[0]), pair[1].start_line, pair[1].start_col or 0),
    )
    lines = [text_line(doc, f) for doc, f in ordered]
    total = len(lines)
    lines.append(f"Found {total} finding{'s' if total != 1 else ''}." if total else "No findings.")
    if show_suppressed:
        lines.extend(suppressed_lines(results))
    return "\n".join(lines)


def suppressed_lines(results: list[tuple[Document, RunResult]]) -> list[str]:
    """``--show-suppressed``: what was not reported because the user dismissed it."""
    hidden = [(doc, f) for doc, r in results for f in r.suppressed]
    if not hidden:
        return ["No suppressed findings."]
    out = [f"Suppressed ({len(hidden)}, dismissed before):"]
    for doc, f in hidden:
        where = text_line(doc, f).split(f": {f.severity} [", 1)[0]
        out.append(f"  {where}: suppressed [{f.code or f.category}] {f.message} ({f.suppressed})")
    return out


def run_check(args: argparse.Namespace) -> int:
    settings, problems = load_settings(Path.cwd(), editor_overrides(args))
    for problem in problems:
        print(f"kaizen: {problem}", file=sys.stderr)
    services = Services(settings)
    services.open_store()
    if services.store_error:
        print(f"kaizen: {services.store_error}", file=sys.stderr)
    files = list(iter_files(args.paths))
    pipelines = ["autofix", "refactor"] if args.pipeline == "all" else [args.pipeline]
    try:
        results = asyncio.run(check_files(services, files, pipelines))
    finally:
        if services.store is not None:
            services.store.close()
    report = render(results, args.format, getattr(args, "show_suppressed", False))
    if hidden := sum(len(r.hidden) for _, r in results):
        print(
            f"kaizen: {hidden} finding{'s' if hidden != 1 else ''} hidden: this repository's "
            "history says they are rarely worth it (review.minConfidence; "
            "`kaizen learnings confidence` lists the kinds)",
            file=sys.stderr,
        )
    if args.output:
        Path(args.output).write_text(report + "\n", encoding="utf-8")
    else:
        print(report)
    if files and not results:
        return 2
    return 1 if any(r.findings for _, r in results) else 0

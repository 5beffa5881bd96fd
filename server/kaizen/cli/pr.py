"""``kaizen pr FILE``: run the refactor pipeline on a file and open a pull request for one
of its refactors (chosen by fingerprint from ``kaizen check --pipeline refactor --format
json``, by line, or the first with a change) — the editor's "Open pull request" from a shell.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when the command runs: ``kaizen serve`` builds this parser too
    from ..app.services import Services
    from ..core.findings import Finding


def add_pr_command(sub: Any) -> None:
    pr = sub.add_parser("pr", help="open a pull request for a refactor of FILE")
    pr.add_argument("file", help="the file to refactor")
    pr.add_argument("--fingerprint", help="the refactor's fingerprint (from kaizen check)")
    pr.add_argument("--line", type=int, help="the refactor covering this 1-based line")
    pr.add_argument("--dry-run", action="store_true", help="print the change, open nothing")
    pr.add_argument("--provider", help="provider for this run")
    pr.add_argument("--model", help="model for this run")
    pr.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    pr.add_argument("--database", help="database path or URL")
    pr.set_defaults(func=run_pr)


def pick(findings: list[Finding], fingerprint: str | None, line: int | None) -> Finding | None:
    for f in findings:
        if fingerprint and f.fingerprint != fingerprint:
            continue
        if line is not None and not f.start_line <= line <= f.end_line:
            continue
        if f.edits:
            return f
    return None


def run_pr(args: argparse.Namespace) -> int:
    from ..app.services import Services
    from .common import cli_settings, editor_overrides, read_document

    args.static_only = args.no_static = False
    settings = cli_settings(editor_overrides(args))
    doc = read_document(Path(args.file))
    if isinstance(doc, str):
        print(f"kaizen: {doc}", file=sys.stderr)
        return 2
    services = Services(settings)
    services.open_store()
    try:
        return asyncio.run(_pr(services, doc, args))
    finally:
        if services.store is not None:
            services.store.close()


async def _pr(services: Services, doc: Any, args: argparse.Namespace) -> int:
    from ..app.pull_requests import create_pull_request
    from ..core.findings import apply_edits
    from ..core.runs import RunStatus
    from ..github import PullRequestError
    from ..pipelines import registry

    result = await registry.run("refactor", doc, services.context())
    for notice in [*result.notices, *([result.error] if result.error else [])]:
        print(f"kaizen: {notice}", file=sys.stderr)
    if result.status == RunStatus.FAILED:  # the refactor could not run: not "no refactor"
        return 2
    finding = pick(result.findings, args.fingerprint, args.line)
    if finding is None:
        print("kaizen: no matching refactor with a generated change", file=sys.stderr)
        return 1
    if args.dry_run:
        after = apply_edits(doc.text, finding.edits)
        sys.stdout.writelines(
            difflib.unified_diff(
                doc.text.splitlines(keepends=True),
                after.splitlines(keepends=True),
                f"a/{doc.relpath}",
                f"b/{doc.relpath}",
            )
        )
        return 0
    try:
        outcome = await create_pull_request(services, doc, finding)
    except PullRequestError as exc:
        print(f"kaizen: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(outcome.as_json()))
    return 0

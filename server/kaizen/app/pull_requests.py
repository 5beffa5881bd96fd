"""From an accepted refactor to a pull request: the glue between a finding and github/.

The change is the analysed document with the refactor's edit applied, sent as one commit on
a new branch through the GitHub API; the working tree is never touched. The PR body carries
the rationale and the learnings that led to it. The token comes from settings or
``GITHUB_TOKEN`` / ``GH_TOKEN`` and goes nowhere else: not to logs, the database or the body.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.document import Document
from ..core.findings import Finding, apply_edits
from ..core.runs import RunStatus, RunTotals
from ..github import (
    FileChange,
    PullRequestError,
    PullRequestSpec,
    branch_name_for,
    open_pull_request,
    render_pr_body,
    resolve_token,
)


class PullRequestServices(Protocol):
    """What opening a pull request needs from the application (``Services`` has it)."""

    settings: Any
    store: Any

    async def learning_summaries(self, insight_ids: list[int]) -> list[str]: ...


@dataclass
class PullRequestOutcome:
    url: str
    number: int
    branch: str

    def as_json(self) -> dict[str, object]:
        return {"url": self.url, "number": self.number, "branch": self.branch}


async def create_pull_request(
    services: PullRequestServices, doc: Document, finding: Finding
) -> PullRequestOutcome:
    """Open a PR for ``finding``'s improvement; raises PullRequestError with a clear message."""
    if not finding.edits:
        raise PullRequestError(
            "no_change",
            "This refactor has no generated change yet; run the refactor pipeline again.",
        )
    if doc.root is None:
        raise PullRequestError("not_a_git_repo", f"{doc.path} is not inside a git repository.")
    settings = services.settings
    token = resolve_token(settings.github.token, os.environ)
    title = f"Refactor: {finding.title or finding.message}"[:120]
    learnings = await services.learning_summaries(finding.learnings)
    body = render_pr_body(
        finding.rationale or finding.message, learnings, [doc.relpath], finding.model
    )
    spec = PullRequestSpec(
        title=title,
        body=body,
        branch=branch_name_for(title, finding.fingerprint),
        changes=[FileChange(doc.relpath, apply_edits(doc.text, finding.edits))],
    )
    store = services.store
    run_id = None
    if store is not None:
        run_id = await asyncio.to_thread(
            store.start_run, "refactor", doc.uri, doc.repository, doc.language, doc.version
        )
        await asyncio.to_thread(store.set_status, run_id, RunStatus.OPENING_PR)
    try:
        result = await asyncio.to_thread(
            open_pull_request, doc.root, spec, token=token, base_url=settings.github.base_url
        )
    except PullRequestError as exc:
        if store is not None and run_id is not None:
            await asyncio.to_thread(
                store.finish_run, run_id, RunStatus.FAILED, RunTotals(), error=str(exc)
            )
        raise
    if store is not None and run_id is not None:
        await asyncio.to_thread(
            store.set_pr, doc.repository, finding.fingerprint, result.url, result.number
        )
        await asyncio.to_thread(
            store.finish_run, run_id, RunStatus.SUCCEEDED, RunTotals(), findings=1
        )
    return PullRequestOutcome(result.url, result.number, result.branch)


def open_rules_pull_request(
    settings: Any, root: Any, relpath: str, new_text: str, rule_ids: list[str], why: str
) -> PullRequestOutcome:
    """``kaizen rules accept --pr``: the accepted rules file as one commit on a new branch,
    proposed through the same GitHub path as a refactor, so the team reviews the rules like
    any change. Raises PullRequestError with a clear message."""
    import hashlib

    token = resolve_token(settings.github.token, os.environ)
    title = f"Kaizen review rules: {', '.join(rule_ids)}"[:120]
    digest = hashlib.sha256("\n".join(sorted(rule_ids)).encode()).hexdigest()
    spec = PullRequestSpec(
        title=title,
        body=render_pr_body(why, [], [relpath], None),
        branch=branch_name_for(f"rules {' '.join(rule_ids)}", digest),
        changes=[FileChange(relpath, new_text)],
    )
    result = open_pull_request(root, spec, token=token, base_url=settings.github.base_url)
    return PullRequestOutcome(result.url, result.number, result.branch)

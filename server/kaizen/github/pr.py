"""Open a pull request for a set of file changes, through the GitHub API only.

Why the git data API and not ``git push``: the user's working tree, index and branches are
never touched, all changes land as one commit on top of the base branch exactly as GitHub
has it, and no credentials need to reach the local git. The flow is

    repo -> base head -> (branch free?) -> (base moved under our files?) -> blobs -> tree
         -> commit -> ref -> pull request

and it leaves nothing half-done: until the ref exists GitHub holds only unreferenced objects
(garbage-collected), and if opening the pull request fails the ref is deleted again.

Synchronous on purpose (PyGithub is); async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from github import Auth, Consts, Github, InputGitTreeElement
from github.GitRef import GitRef
from github.Repository import Repository

from kaizen.github.body import branch_name_for, render_pr_body
from kaizen.github.errors import PullRequestError, mask_secrets
from kaizen.github.gitcli import repo_root
from kaizen.github.remote import base_branch, find_remote, host_of
from kaizen.github.session import ApiSession
from kaizen.github.spec import FileChange, PullRequestResult, PullRequestSpec, checked_modes

__all__ = [
    "FileChange",
    "PullRequestError",
    "PullRequestResult",
    "PullRequestSpec",
    "branch_name_for",
    "mask_secrets",
    "open_pull_request",
    "render_pr_body",
    "resolve_token",
]

log = logging.getLogger(__name__)

TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
# The compare endpoint lists at most this many files; beyond it we cannot tell what moved.
_COMPARE_FILE_LIMIT = 300


def resolve_token(settings_token: str | None, env: Mapping[str, str]) -> str:
    """The GitHub token: the Kaizen setting first, then ``GITHUB_TOKEN``, then ``GH_TOKEN``."""
    for candidate in (settings_token, *(env.get(name) for name in TOKEN_VARIABLES)):
        if candidate and candidate.strip():
            return candidate.strip()
    raise PullRequestError(
        "no_token",
        "No GitHub token found. Set GITHUB_TOKEN (or GH_TOKEN) in the environment Kaizen runs "
        "in, or the github.token setting. The token needs write access to contents and pull "
        "requests (fine-grained) or the repo scope (classic).",
    )


def open_pull_request(
    workspace: Path,
    spec: PullRequestSpec,
    *,
    token: str,
    base_url: str | None = None,
    max_rate_limit_wait: float = 30.0,
    throttle: bool = True,
) -> PullRequestResult:
    """Open ``spec`` as a pull request on the GitHub repository of ``workspace``'s remote.

    ``base_url`` is the REST API root for GitHub Enterprise (``https://HOST/api/v3``); without
    it the API is derived from the remote. ``throttle`` keeps PyGithub's spacing between
    requests (0.25 s, 1 s between writes) that GitHub asks integrations to respect.
    Raises ``PullRequestError``; its message never contains the token.
    """
    token = resolve_token(token, {})  # an empty token gets the same advice as a missing one
    session = ApiSession(token, max_rate_limit_wait)
    try:
        root = repo_root(workspace)
        api_url = _checked_api_url(base_url)
        remote = find_remote(root, [h for h in [host_of(api_url or "")] if h])
        base = spec.base or base_branch(root)
        modes = checked_modes(root, spec, token)
    except PullRequestError as err:
        raise session.rescrub(err) from None
    github = Github(
        auth=Auth.Token(token),
        base_url=api_url or remote.api_url,
        retry=None,  # rate limits are handled by ApiSession, within max_rate_limit_wait
        seconds_between_requests=Consts.DEFAULT_SECONDS_BETWEEN_REQUESTS if throttle else None,
        seconds_between_writes=Consts.DEFAULT_SECONDS_BETWEEN_WRITES if throttle else None,
    )
    try:
        repo = session.call(
            f"looking up {remote.full_name}", lambda: github.get_repo(remote.full_name)
        )
        return _publish(session, repo, spec, base, modes)
    finally:
        github.close()


def _checked_api_url(base_url: str | None) -> str | None:
    if not base_url:
        return None
    if not base_url.startswith(("https://", "http://")):
        raise PullRequestError(
            "github_error",
            f"The GitHub API URL {mask_secrets(base_url, ())!r} must start with https:// "
            "(for GitHub Enterprise: https://HOST/api/v3).",
        )
    return base_url.rstrip("/")


def _publish(
    session: ApiSession, repo: Repository, spec: PullRequestSpec, base: str, modes: dict[str, str]
) -> PullRequestResult:
    base_sha = _branch_head(session, repo, base)
    if base_sha is None:
        raise session.fail(
            "no_base_branch", f"The base branch {base!r} does not exist on {repo.full_name}."
        )
    if _branch_head(session, repo, spec.branch) is not None:
        raise _branch_exists(session, spec.branch, repo)
    if spec.expected_base_sha and spec.expected_base_sha != base_sha:
        _check_base_unmoved(session, repo, spec, base, base_sha)

    base_commit = session.call("reading the base commit", lambda: repo.get_git_commit(base_sha))
    elements = []
    for change in spec.changes:
        blob = session.call(
            f"uploading {change.path}",
            partial(repo.create_git_blob, change.new_text, "utf-8"),
        )
        elements.append(InputGitTreeElement(change.path, modes[change.path], "blob", sha=blob.sha))
    tree = session.call(
        "creating the tree", lambda: repo.create_git_tree(elements, base_tree=base_commit.tree)
    )
    title = session.mask_secrets(spec.title.strip())
    commit = session.call(
        "creating the commit", lambda: repo.create_git_commit(title, tree, [base_commit])
    )
    ref = _create_branch(session, repo, spec.branch, commit.sha)
    try:
        pull = session.call(
            "opening the pull request",
            lambda: repo.create_pull(
                base=base, head=spec.branch, title=title, body=session.mask_secrets(spec.body)
            ),
        )
    except BaseException as exc:
        raise _rolled_back(session, ref, spec.branch, exc) from None
    log.info("Opened pull request #%d on %s: %s", pull.number, repo.full_name, pull.html_url)
    return PullRequestResult(
        url=pull.html_url, number=pull.number, branch=spec.branch, base=base, commit_sha=commit.sha
    )


def _branch_head(session: ApiSession, repo: Repository, branch: str) -> str | None:
    """The commit a branch points at on GitHub, or None if there is no such branch."""
    try:
        ref = session.call(f"reading branch {branch}", lambda: repo.get_git_ref(f"heads/{branch}"))
    except PullRequestError as err:
        if err.status == 404:
            return None
        raise
    return ref.object.sha


def _branch_exists(session: ApiSession, branch: str, repo: Repository) -> PullRequestError:
    return session.fail(
        "branch_exists",
        f"The branch {branch!r} already exists on {repo.full_name}; it may hold an earlier "
        "pull request for this change. Nothing was written.",
    )


def _check_base_unmoved(
    session: ApiSession, repo: Repository, spec: PullRequestSpec, base: str, base_sha: str
) -> None:
    """Refuse if the base moved since ``expected_base_sha`` in a way that touches our files."""
    expected = spec.expected_base_sha or ""
    try:
        comparison = session.call(
            f"comparing {expected[:12]} with {base}", lambda: repo.compare(expected, base_sha)
        )
        status, files = comparison.status, comparison.files
    except PullRequestError as err:
        if err.status == 404:
            raise session.fail(
                "base_unknown",
                f"GitHub does not know commit {expected[:12]} the change was made on; push it "
                "first, or re-run Kaizen on the current base.",
            ) from None
        raise
    if status not in ("ahead", "identical") or len(files) >= _COMPARE_FILE_LIMIT:
        raise session.fail(
            "base_moved",
            f"{base} on GitHub is no longer a descendant of {expected[:12]} (status "
            f"{status!r}); re-run Kaizen on the current base. Nothing was written.",
        )
    touched = {f.filename for f in files} | {f.previous_filename for f in files}
    clash = sorted(touched & {change.path for change in spec.changes})
    if clash:
        raise session.fail(
            "base_moved",
            f"{base} moved from {expected[:12]} to {base_sha[:12]} and changed "
            f"{', '.join(clash)}; re-run Kaizen on the current base. Nothing was written.",
        )


def _create_branch(session: ApiSession, repo: Repository, branch: str, sha: str) -> GitRef:
    try:
        return session.call(
            f"creating branch {branch}", lambda: repo.create_git_ref(f"refs/heads/{branch}", sha)
        )
    except PullRequestError as err:
        if err.status == 422 and "already exists" in err.message.lower():
            raise _branch_exists(session, branch, repo) from None
        raise


def _rolled_back(
    session: ApiSession, ref: GitRef, branch: str, exc: BaseException
) -> BaseException:
    """Delete the just-created branch; return the error to raise, saying what was undone."""
    try:
        session.call(f"deleting branch {branch} again", ref.delete)
        undone = f" The branch {branch} was deleted again; nothing was left on GitHub."
    except PullRequestError as err:
        undone = f" The branch {branch} could not be deleted again ({err}); delete it by hand."
    if isinstance(exc, PullRequestError):
        return session.fail(
            exc.code, exc.message + undone, status=exc.status, resets_at=exc.resets_at
        )
    return exc

"""Pull requests on GitHub (and GitHub Enterprise) for changes Kaizen proposes."""

from kaizen.github.errors import PullRequestError, mask_secrets
from kaizen.github.pr import (
    FileChange,
    PullRequestResult,
    PullRequestSpec,
    branch_name_for,
    open_pull_request,
    render_pr_body,
    resolve_token,
)
from kaizen.github.remote import GitHubRemote, base_branch, find_remote, parse_remote_url

__all__ = [
    "FileChange",
    "GitHubRemote",
    "PullRequestError",
    "PullRequestResult",
    "PullRequestSpec",
    "base_branch",
    "branch_name_for",
    "find_remote",
    "mask_secrets",
    "open_pull_request",
    "parse_remote_url",
    "render_pr_body",
    "resolve_token",
]

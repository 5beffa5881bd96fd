"""Which GitHub repository, and which base branch, a workspace belongs to.

The answer comes from the local clone's remote (``git remote get-url`` applies the user's
``insteadOf`` rewrites, so it is what git itself would push to). github.com is always
recognised; a GitHub Enterprise host is recognised when it is named explicitly (usually the
host of the configured API URL) or is a ``*.ghe.com`` data-residency host. Anything else
(GitLab, a path on disk) is refused with a clear message rather than sent to the wrong API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kaizen.github.errors import PullRequestError, mask_secrets
from kaizen.github.gitcli import git_output, repo_root

GITHUB_HOST = "github.com"
_GITHUB_ALIASES = {"github.com", "www.github.com", "ssh.github.com"}
_DEFAULT_BRANCH = "main"

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>(?!/).+)$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class GitHubRemote:
    """A repository on GitHub or GitHub Enterprise, as named by a git remote."""

    host: str
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def api_url(self) -> str:
        """The REST API root PyGithub needs for this host."""
        if self.host == GITHUB_HOST:
            return "https://api.github.com"
        if self.host.endswith(".ghe.com"):
            return f"https://api.{self.host}"
        return f"https://{self.host}/api/v3"


def host_of(url: str) -> str | None:
    """The lowercase host of an API URL, without an ``api.`` prefix; used to trust that host."""
    host = urlsplit(url).hostname
    return host.lower().removeprefix("api.") if host else None


def parse_remote_url(url: str, enterprise_hosts: Iterable[str] = ()) -> GitHubRemote:
    """Parse an https, ssh or scp-style remote URL into owner/name on a recognised GitHub host."""
    shown = mask_secrets(url, ())
    host, path = _split(url.strip())
    if host is None:
        raise PullRequestError("not_github", f"The remote {shown!r} is not a GitHub URL.")
    host = host.lower()
    if host in _GITHUB_ALIASES:
        host = GITHUB_HOST
    trusted = {h.lower() for h in enterprise_hosts}
    if host != GITHUB_HOST and host not in trusted and not host.endswith(".ghe.com"):
        raise PullRequestError(
            "not_github",
            f"The remote {shown!r} points at {host}, which is not github.com. If it is GitHub "
            f"Enterprise, set the GitHub API URL (for example https://{host}/api/v3).",
        )
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) != 2:
        raise PullRequestError("not_github", f"The remote {shown!r} does not name owner/repo.")
    owner, name = parts[0], parts[1].removesuffix(".git")
    if not (_NAME.match(owner) and _NAME.match(name)):
        raise PullRequestError("not_github", f"The remote {shown!r} does not name owner/repo.")
    return GitHubRemote(host=host, owner=owner, name=name)


def _split(url: str) -> tuple[str | None, str]:
    """(host, path) of a remote URL; host is None for local paths and unknown schemes."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}:
            return None, ""
        return parts.hostname, parts.path
    match = _SCP_LIKE.match(url)
    if match is None:
        return None, ""
    return match["host"], match["path"]


def remote_name(workspace: Path) -> str:
    """``origin`` if it exists, else the only remote; ``no_remote`` when there is none to pick."""
    root = repo_root(workspace)
    names = (git_output(root, "remote") or "").split()
    if "origin" in names:
        return "origin"
    if len(names) == 1:
        return names[0]
    if not names:
        raise PullRequestError(
            "no_remote",
            f"The repository at {root} has no remote; add one with "
            "`git remote add origin https://github.com/OWNER/REPO.git`.",
        )
    raise PullRequestError(
        "no_remote",
        f"The repository at {root} has several remotes ({', '.join(names)}) and none is "
        "called origin; Kaizen does not guess which one to open the pull request on.",
    )


def find_remote(workspace: Path, enterprise_hosts: Iterable[str] = ()) -> GitHubRemote:
    """The GitHub repository the workspace's remote points at."""
    name = remote_name(workspace)
    url = git_output(workspace, "remote", "get-url", name) or git_output(
        workspace, "config", "--get", f"remote.{name}.url"
    )
    if not url:
        raise PullRequestError("no_remote", f"The remote {name!r} has no URL.")
    return parse_remote_url(url, enterprise_hosts)


def base_branch(workspace: Path) -> str:
    """The branch a pull request should target when none is given.

    The remote's default branch when the clone knows it (``refs/remotes/<remote>/HEAD``),
    else the branch checked out, else ``main``.
    """
    name = remote_name(workspace)
    head = git_output(workspace, "symbolic-ref", "--quiet", f"refs/remotes/{name}/HEAD")
    prefix = f"refs/remotes/{name}/"
    if head and head.startswith(prefix):
        return head.removeprefix(prefix)
    current = git_output(workspace, "symbolic-ref", "--quiet", "--short", "HEAD")
    return current or _DEFAULT_BRANCH

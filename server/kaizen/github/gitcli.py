"""Read-only questions to the local ``git``: where the repository is, file modes, ref names.

The pull-request feature works entirely through the GitHub API; the local clone is only
consulted, never changed. Every command here is a read, runs without optional locks (so it
cannot race with the user's own git) and without a terminal prompt.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from kaizen.github.errors import PullRequestError

_TIMEOUT_SECONDS = 10.0

REGULAR_FILE = "100644"
EXECUTABLE_FILE = "100755"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    return env


def run_git(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``git -C workspace args`` and return the finished process (never raises on exit code)."""
    try:
        return subprocess.run(
            ["git", "-C", str(workspace), *args],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError as exc:
        raise PullRequestError("git_missing", "git is not installed or not on PATH.") from exc
    except subprocess.TimeoutExpired as exc:
        raise PullRequestError(
            "not_a_git_repo", f"git did not answer within {_TIMEOUT_SECONDS:.0f} s in {workspace}."
        ) from exc


def git_output(workspace: Path, *args: str) -> str | None:
    """The stripped stdout of a git command, or None when it failed."""
    done = run_git(workspace, *args)
    return done.stdout.strip() if done.returncode == 0 else None


def repo_root(workspace: Path) -> Path:
    """The top of the work tree that contains ``workspace``; ``not_a_git_repo`` otherwise."""
    if not workspace.is_dir():
        raise PullRequestError("not_a_git_repo", f"{workspace} is not a directory.")
    top = git_output(workspace, "rev-parse", "--show-toplevel")
    if not top:
        raise PullRequestError(
            "not_a_git_repo",
            f"{workspace} is not inside a git repository; a pull request needs a clone of a "
            "GitHub repository.",
        )
    return Path(top)


def is_valid_branch_name(workspace: Path, branch: str) -> bool:
    """Whether git itself accepts ``branch`` as a branch name (the rules are subtle; ask git)."""
    if not branch or branch.startswith("-"):
        return False
    return run_git(workspace, "check-ref-format", f"refs/heads/{branch}").returncode == 0


def file_modes(root: Path, revisions: Sequence[str], paths: Sequence[str]) -> dict[str, str]:
    """Git modes of ``paths`` at the first of ``revisions`` the local clone has.

    Used so that a change to an executable script keeps its executable bit in the new commit.
    Paths the revision does not contain are left out (they are new files).
    """
    if not paths:
        return {}
    for revision in revisions:
        done = run_git(root, "ls-tree", "-z", revision, "--", *paths)
        if done.returncode == 0:
            return _parse_ls_tree(done.stdout)
    return {}


def _parse_ls_tree(output: str) -> dict[str, str]:
    modes: dict[str, str] = {}
    for entry in output.split("\0"):
        meta, sep, path = entry.partition("\t")
        if sep and meta:
            modes[path] = meta.split(" ", 1)[0]
    return modes

"""What a pull request is made of, and the checks it must pass before anything goes to GitHub.

The changes usually come from a model, so they are untrusted: paths must stay inside the
repository (no ``..``, no ``.git/``), the branch must be a name git accepts, and a change
that would commit the GitHub token itself is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kaizen.github.errors import PullRequestError
from kaizen.github.gitcli import EXECUTABLE_FILE, REGULAR_FILE, file_modes, is_valid_branch_name

_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


@dataclass(frozen=True)
class FileChange:
    """The complete new content of one file, by its repository-relative posix path."""

    path: str
    new_text: str


@dataclass
class PullRequestSpec:
    """What to open: one commit with ``changes`` on ``branch``, proposed against ``base``.

    ``expected_base_sha`` is the commit the changes were computed from; if the base branch has
    since moved and touched any of the changed files, the pull request is refused.
    """

    title: str
    body: str
    branch: str
    changes: list[FileChange]
    base: str | None = None
    expected_base_sha: str | None = None


@dataclass(frozen=True)
class PullRequestResult:
    """The opened pull request (``url`` is its web page) and the one commit it proposes."""

    url: str
    number: int
    branch: str
    base: str
    commit_sha: str


def checked_modes(root: Path, spec: PullRequestSpec, token: str) -> dict[str, str]:
    """Validate ``spec``; return the git mode for each changed path (``invalid_change`` else).

    Modes come from the local clone so an executable script stays executable.
    """
    if not spec.title.strip():
        raise PullRequestError("invalid_change", "A pull request needs a title.")
    if not spec.changes:
        raise PullRequestError("invalid_change", "A pull request needs at least one change.")
    if not is_valid_branch_name(root, spec.branch):
        raise PullRequestError("invalid_change", f"{spec.branch!r} is not a valid branch name.")
    if spec.expected_base_sha is not None and not _SHA.match(spec.expected_base_sha):
        raise PullRequestError("invalid_change", f"{spec.expected_base_sha!r} is not a commit sha.")
    paths = [change.path for change in spec.changes]
    for path in paths:
        _check_path(path)
    if len(set(paths)) != len(paths):
        raise PullRequestError("invalid_change", "The same file is changed more than once.")
    for change in spec.changes:
        if token in change.new_text:
            raise PullRequestError(
                "token_in_change",
                f"The new content of {change.path} contains the GitHub token; refusing to "
                "commit a secret.",
            )
    revisions = [spec.expected_base_sha] if spec.expected_base_sha else []
    known = file_modes(root, [*revisions, "HEAD"], paths)
    odd = sorted(p for p, mode in known.items() if mode not in (REGULAR_FILE, EXECUTABLE_FILE))
    if odd:
        raise PullRequestError(
            "invalid_change", f"Not regular files (symlinks or submodules): {', '.join(odd)}."
        )
    return {path: known.get(path, REGULAR_FILE) for path in paths}


def _check_path(path: str) -> None:
    parts = PurePosixPath(path).parts
    if (
        not path
        or "\\" in path
        or "\0" in path
        or path.startswith("/")
        or path != PurePosixPath(path).as_posix()
        or any(part in ("..", ".") for part in parts)
        or parts[0] == ".git"
    ):
        raise PullRequestError(
            "invalid_change", f"{path!r} is not a repository-relative posix path."
        )

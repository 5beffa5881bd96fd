"""What a pull request changed, from git: the files and, per file, the lines.

``kaizen check --diff [REF]`` reviews only the units these lines touch and, unless asked
otherwise, reports only findings on them: the pull-request review people expect from AI
reviewers, at a fraction of the tokens. REF defaults to the merge base of HEAD with the
default branch (``origin/HEAD``, else ``origin/main`` / ``origin/master`` / ``main`` /
``master``); the comparison is against the working tree, and untracked files count as
wholly changed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.M)
DEFAULT_BRANCHES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")


class DiffError(Exception):
    """git could not tell what changed; the message names the ref or the folder."""


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiffError(f"git failed in {root}: {exc}") from None
    if done.returncode != 0:
        raise DiffError(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git failed"
        )
    return done.stdout


def repository_root(start: Path) -> Path:
    try:
        return Path(_git(start, "rev-parse", "--show-toplevel").strip())
    except DiffError:
        raise DiffError(f"{start} is not inside a git repository (--diff needs one)") from None


def default_base(root: Path) -> str:
    """The merge base of HEAD with the default branch."""
    for branch in DEFAULT_BRANCHES:
        try:
            return _git(root, "merge-base", "HEAD", branch).strip()
        except DiffError:
            continue
    raise DiffError(
        "no default branch to compare with (tried " + ", ".join(DEFAULT_BRANCHES) + "); "
        "give one: --diff REF"
    )


def parse_hunks(diff: str) -> dict[str, set[int]]:
    """``git diff -U0`` output -> path (as in the ``+++ b/`` line) -> changed new lines.
    A pure deletion marks the line after it, so the unit around it counts as touched."""
    out: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = line[4:].strip()
            current = (
                None if name == "/dev/null" else out.setdefault(name.removeprefix("b/"), set())
            )
        elif line.startswith("@@") and current is not None and (m := _HUNK.match(line)):
            start, count = int(m.group(1)), int(m.group(2) or "1")
            current.update(range(start, start + count) if count else [max(start, 1)])
    return out


def changed_lines(root: Path, ref: str | None) -> dict[Path, frozenset[int]]:
    """Absolute path -> the 1-based lines changed between ``ref`` and the working tree."""
    base = ref or default_base(root)
    try:
        _git(root, "rev-parse", "--verify", f"{base}^{{commit}}")
    except DiffError:
        raise DiffError(f"--diff {base}: no such commit or branch in {root}") from None
    diff = _git(root, "diff", "-U0", "--no-color", "--no-ext-diff", base, "--")
    out = {root / name: frozenset(lines) for name, lines in parse_hunks(diff).items()}
    for name in _git(root, "ls-files", "--others", "--exclude-standard").splitlines():
        path = root / name
        try:
            count = len(path.read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            continue
        out[path] = frozenset(range(1, count + 1))
    return out

"""Writing accepted rules into the repository: ``.kaizen/rules/learned.md``, and the
learned-rules section of ``AGENTS.md`` (``kaizen rules export --agents``).

Two processes may accept at once (two editors, an editor and ``kaizen rules accept``): every
change happens under an exclusive file lock (``filelock``; the lock file is
``.kaizen/rules/.learned.md.lock``), re-reads the file inside the lock, appends only rules
whose id is not there yet, and replaces the file atomically (a temporary file in the same
folder, flushed, then ``os.replace``), so nothing is lost, nothing is duplicated and a
reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock

from . import frontmatter
from .files import EXPORT_END, EXPORT_START
from .model import LEARNED_FILE

RULES_DIR = Path(".kaizen") / "rules"
HEADER = (
    "<!-- Rules Kaizen learned from this team's outcomes and the team accepted. Each block\n"
    "     is one rule: edit its text, set enabled: false, or delete it. -->\n"
)
LOCK_TIMEOUT_S = 30.0


def learned_path(root: Path) -> Path:
    return root / RULES_DIR / LEARNED_FILE


def _lock(path: Path) -> FileLock:
    return FileLock(str(path.with_name(f".{path.name}.lock")), timeout=LOCK_TIMEOUT_S)


def atomic_write(path: Path, content: str) -> None:
    """Replace ``path`` with ``content`` in one step (see the module doc)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _ids(content: str, path: Path) -> set[str]:
    parsed = frontmatter.parse(content, path)
    return {str(b.meta.get("id")) for b in parsed.blocks if b.has_meta and b.meta.get("id")}


def add_rules(root: Path, rules: Iterable[tuple[dict[str, Any], str]]) -> tuple[Path, list[str]]:
    """Append ``(front matter, text)`` rules to learned.md; the ids actually added (an id
    already in the file is left as the team has it)."""
    path = learned_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    added: list[str] = []
    with _lock(path):
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            content = HEADER
        present = _ids(content, path)
        blocks = []
        for meta, body in rules:
            rule_id = str(meta["id"])
            if rule_id in present:
                continue
            present.add(rule_id)
            added.append(rule_id)
            blocks.append(frontmatter.render(meta, body))
        if blocks:
            sep = (
                ""
                if content.endswith("\n\n") or not content
                else ("\n" if content.endswith("\n") else "\n\n")
            )
            atomic_write(path, content + sep + "\n".join(blocks))
    return path, added


def export_agents(root: Path, rules: list[tuple[str, str]]) -> tuple[Path, bool]:
    """Write ``(id, text)`` rules as the learned-rules section of AGENTS.md, between its
    markers (replaced in place; appended the first time). Returns the path and whether the
    file changed: running it twice changes nothing the second time."""
    path = root / "AGENTS.md"
    items = "\n".join(f"- {text.strip()} (`{rule_id}`)" for rule_id, text in rules)
    section = (
        f"{EXPORT_START}\n## Review rules learned by Kaizen\n\n"
        f"{items or '(none yet)'}\n{EXPORT_END}"
    )
    with _lock(path):
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            content = ""
        pattern = re.compile(re.escape(EXPORT_START) + r".*?" + re.escape(EXPORT_END), re.S)
        if pattern.search(content):
            new = pattern.sub(lambda _m: section, content, count=1)
        else:
            new = (content.rstrip("\n") + "\n\n" if content.strip() else "") + section + "\n"
        if new == content:
            return path, False
        atomic_write(path, new)
    return path, True

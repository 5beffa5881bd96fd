"""The deterministic pre-pass: ruff on the document text, before any model is asked.

Tiny models miss obvious bugs and big models charge tokens for what a linter finds for free,
so for Python the linter goes first. Ruff reads the text on stdin (the unsaved buffer, not
the file on disk) from the project root so the project's own configuration applies; a
project without any ruff configuration gets Kaizen's selection of bug-prone rules. Ruff's
fixes become quick fixes like any other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.document import Document
from ..core.findings import Edit, Finding, Severity

if TYPE_CHECKING:
    from .linters.process import Complaints

log = logging.getLogger(__name__)

# Rules that find bugs rather than style: pyflakes, comparison/except pitfalls, syntax
# errors, bugbear, pylint errors, and a few security and async foot-guns.
KAIZEN_RULES = "F,E7,E9,B,PLE,S102,S307,S602,S605,RUF006"
ERROR_CODES = ("F821", "F822", "F823", "E9", "PLE", "F63", "F7")
CATEGORY_BY_PREFIX = (
    ("S", "security"),
    ("PLE", "bug"),
    ("E9", "syntax"),
    ("E7", "correctness"),
    ("F", "correctness"),
    ("B", "bug"),
    ("RUF", "bug"),
)
TIMEOUT_S = 20.0


@lru_cache(maxsize=1)
def ruff_binary() -> str | None:
    try:
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return None


@lru_cache(maxsize=128)
def has_ruff_config(root: Path | None) -> bool:
    """Whether ruff will find a configuration of the project's own from ``root`` upwards."""
    if root is None:
        return False
    for folder in (root, *root.parents):
        if (folder / "ruff.toml").is_file() or (folder / ".ruff.toml").is_file():
            return True
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                if "[tool.ruff" in pyproject.read_text(encoding="utf-8", errors="replace"):
                    return True
            except OSError:
                pass
    return False


def ruff_command(doc: Document) -> list[str]:
    command = [
        ruff_binary() or "ruff",
        "check",
        "--output-format",
        "json",
        "--no-cache",
        "--exit-zero",
        "--stdin-filename",
        str(doc.path),
    ]
    if not has_ruff_config(doc.root):
        command += ["--isolated", "--select", KAIZEN_RULES]
    return [*command, "-"]


def category_of(code: str) -> str:
    for prefix, category in CATEGORY_BY_PREFIX:
        if code.startswith(prefix):
            return category
    return "lint"


def severity_of(code: str) -> Severity:
    return "error" if code.startswith(ERROR_CODES) else "warning"


def to_finding(item: dict[str, Any], doc: Document) -> Finding | None:
    code = str(item.get("code") or "")
    location, end = item.get("location") or {}, item.get("end_location") or {}
    row, col = int(location.get("row", 1)), int(location.get("column", 1))
    end_row, end_col = int(end.get("row", row)), int(end.get("column", col))
    if not code or not 1 <= row <= len(doc.lines):
        return None
    end_row = min(max(end_row, row), len(doc.lines))
    finding = Finding(
        pipeline="autofix",
        category=category_of(code),
        severity=severity_of(code),
        start_line=row,
        end_line=end_row,
        start_col=col - 1,
        end_col=end_col - 1,
        message=str(item.get("message", code)),
        code=code,
        code_url=item.get("url"),
        origin="ruff",
        model=None,
    )
    fix = item.get("fix") or {}
    if fix.get("edits") and fix.get("applicability") in ("safe", "unsafe"):
        finding.edits = [
            Edit(
                e["location"]["row"] - 1,
                e["location"]["column"] - 1,
                e["end_location"]["row"] - 1,
                e["end_location"]["column"] - 1,
                e["content"],
            )
            for e in fix["edits"]
        ]
        title = fix.get("message") or f"Fix {code}"
        finding.fix_title = title if fix["applicability"] == "safe" else f"{title} (unsafe fix)"
    return finding


async def ruff_findings(doc: Document, complaints: Complaints | None = None) -> list[Finding]:
    """Ruff's findings for a Python document; [] for other languages or if ruff is missing
    (said once through ``complaints`` when given, else logged)."""
    if doc.language != "python" or not doc.text.strip():
        return []

    def problem(text: str) -> None:
        if complaints is not None:
            complaints.once("ruff", text)
        else:
            log.warning("ruff %s", text)

    command = ruff_command(doc)
    cwd = str(doc.root or doc.path.parent if doc.path.parent.is_dir() else Path.cwd())
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except (FileNotFoundError, PermissionError) as exc:
        problem(f"not available: {exc}")
        return []
    try:
        out, err = await asyncio.wait_for(proc.communicate(doc.text.encode()), TIMEOUT_S)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        problem(f"timed out on {doc.relpath}")
        return []
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
        raise
    if proc.returncode not in (0, 1):
        problem(f"failed: {err.decode(errors='replace')[:500]}")
        return []
    try:
        items = json.loads(out or b"[]")
    except json.JSONDecodeError:
        return []
    return [f for item in items if (f := to_finding(item, doc)) is not None]


if sys.platform == "win32":  # pragma: no cover - asyncio subprocesses need the proactor loop
    asyncio.set_event_loop_policy(asyncio.WindowsProactorEventLoopPolicy())

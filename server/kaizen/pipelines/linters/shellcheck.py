"""shellcheck for shell scripts: the editor's text on stdin, its ``json1`` report (1-based
code-point columns, tabs counted as one) and its own fixes as Kaizen findings.

A script without a shebang is checked as Bash (shellcheck would otherwise only say it
cannot tell the shell). shellcheck's ``.shellcheckrc`` is found from the working directory,
so it runs in the document's folder.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.document import Document
from ...core.findings import Edit, Finding, Severity
from .process import Complaints, run

NAME = "shellcheck"
SEVERITIES: dict[str, Severity] = {
    "error": "error",
    "warning": "warning",
    "info": "info",
    "style": "hint",
}
CATEGORIES = {"error": "correctness", "warning": "bug", "info": "lint", "style": "style"}


def command(doc: Document, binary: str) -> list[str]:
    cmd = [binary, "-f", "json1"]
    if not doc.text.startswith("#!"):
        cmd += ["-s", "bash"]
    return [*cmd, "-"]


def _clamped(lines: list[str], line: int, column: int) -> tuple[int, int]:
    """A 1-based (line, column) as a 0-based one inside the document."""
    row = min(max(line, 1), len(lines)) - 1
    return row, min(max(column - 1, 0), len(lines[row]))


def to_finding(item: dict[str, Any], lines: list[str]) -> Finding | None:
    code = item.get("code")
    if code is None or not 1 <= int(item.get("line", 0)) <= len(lines):
        return None
    start = _clamped(lines, int(item["line"]), int(item.get("column", 1)))
    end = _clamped(lines, int(item.get("endLine", item["line"])), int(item.get("endColumn", 1)))
    level = str(item.get("level", "warning"))
    finding = Finding(
        pipeline="autofix",
        category=CATEGORIES.get(level, "lint"),
        severity=SEVERITIES.get(level, "warning"),
        start_line=start[0] + 1,
        end_line=max(end[0], start[0]) + 1,
        start_col=start[1],
        end_col=end[1] if end[0] > start[0] or end[1] >= start[1] else start[1],
        message=str(item.get("message", f"SC{code}")),
        code=f"SC{code}",
        code_url=f"https://www.shellcheck.net/wiki/SC{code}",
        origin=NAME,
        model=None,
    )
    replacements = (item.get("fix") or {}).get("replacements") or []
    edits = []
    for r in replacements:
        (sl, sc), (el, ec) = (
            _clamped(lines, int(r["line"]), int(r["column"])),
            _clamped(lines, int(r["endLine"]), int(r["endColumn"])),
        )
        edits.append(Edit(sl, sc, el, ec, str(r.get("replacement", ""))))
    if edits:  # LSP wants non-overlapping edits; shellcheck's insertions never overlap
        finding.edits = sorted(edits, key=lambda e: (e.start_line, e.start_col))
        finding.fix_title = f"Apply shellcheck's fix for SC{code}"
    return finding


async def findings(doc: Document, binary: str, complaints: Complaints) -> list[Finding]:
    if not doc.text.strip():
        return []
    cwd = str(doc.path.parent) if doc.path.parent.is_dir() else None
    ran = await run(NAME, command(doc, binary), complaints, stdin=doc.text.encode(), cwd=cwd)
    if ran is None:
        return []
    try:
        items = json.loads(ran.out or b"{}").get("comments") or []
    except (json.JSONDecodeError, AttributeError):
        complaints.once(NAME, "its JSON report could not be read")
        return []
    return [f for item in items if (f := to_finding(item, doc.lines)) is not None]

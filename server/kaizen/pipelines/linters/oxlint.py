"""oxlint for JavaScript, JSX, TypeScript and TSX: the editor's text, oxlint's findings and
oxlint's own fixes as Kaizen findings.

oxlint reads no stdin, so the unsaved text goes to a temporary file with the document's
name (its extension picks the parser). Its JSON report has no edits, so a second oxlint run
on a copy applies its fixes (``--fix --fix-suggestions``; never the dangerous ones) and the
difference between the two texts, cut to each changed run, becomes the quick fix of the
finding it touches. Both runs go at once: the first paint waits for the slower one only.

Why oxlint rather than Biome: see docs/linters.md (a PyPI wheel with no Node; 5x faster on
a 2,000-line file; flags ``x == null`` through ``eqeqeq``).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from ...core.document import Document
from ...core.findings import Finding, Severity
from .positions import TextIndex, edits_between, to_edit
from .process import Complaints, run

NAME = "oxlint"
CONFIG_FILES = (".oxlintrc.json", ".oxlintrc.jsonc", "oxlintrc.json")
# Without a project configuration: oxlint's default (correctness) plus suspicious code and
# loose equality, the bugs a reviewer would otherwise be paid to find.
KAIZEN_RULES = ("-W", "correctness", "-W", "suspicious", "-W", "eqeqeq")
SEVERITIES: dict[str, Severity] = {"error": "error", "warning": "warning", "advice": "info"}


def project_config(doc: Document) -> Path | None:
    """The nearest oxlint configuration from the document's folder up to its project."""
    stop = doc.root
    for folder in (doc.path.parent, *doc.path.parent.parents):
        for name in CONFIG_FILES:
            if (folder / name).is_file():
                return folder / name
        if stop is None or folder == stop:
            break
    return None


def rule_args(doc: Document) -> list[str]:
    config = project_config(doc)
    return ["-c", str(config)] if config is not None else list(KAIZEN_RULES)


def to_finding(item: dict[str, Any], index: TextIndex) -> Finding | None:
    labels = item.get("labels") or []
    if not labels:
        return None
    span = labels[0].get("span") or {}
    offset, length = int(span.get("offset", 0)), int(span.get("length", 0))
    start = index.char_offset(offset)
    end = index.char_offset(offset + length)
    (line, col), (end_line, end_col) = index.position(start), index.position(end)
    code = str(item.get("code") or "")
    syntax = not code  # oxlint's parse errors carry no rule
    return Finding(
        pipeline="autofix",
        category="syntax" if syntax else "lint",
        severity="error" if syntax else SEVERITIES.get(str(item.get("severity")), "warning"),
        start_line=line + 1,
        end_line=end_line + 1,
        start_col=col,
        end_col=end_col,
        message=str(item.get("message") or code),
        rationale=str(item.get("help") or ""),
        code=code or "oxlint(syntax)",
        code_url=item.get("url"),
        origin=NAME,
        model=None,
    )


def attach_fixes(
    findings: list[Finding], spans: list[tuple[int, int]], index: TextIndex, fixed: str
) -> None:
    """Give each finding the changes of ``fixed`` that touch its span (each change goes to
    the first finding it touches, so two quick fixes never carry the same edit)."""
    for start, end, replacement in edits_between(index.text, fixed) or []:
        for finding, (low, high) in zip(findings, spans, strict=True):
            if start <= high and end >= low and finding.category != "syntax":
                finding.edits.append(to_edit(index, start, end, replacement))
                finding.fix_title = finding.rationale or f"Fix {finding.code}"
                break


async def findings(doc: Document, binary: str, complaints: Complaints) -> list[Finding]:
    if not doc.text.strip():
        return []
    args = rule_args(doc)
    with tempfile.TemporaryDirectory(prefix="kaizen-oxlint-") as tmp:
        name = doc.path.name or "document.ts"
        lint, fix = Path(tmp, "lint", name), Path(tmp, "fix", name)
        for path in (lint, fix):
            path.parent.mkdir()
            path.write_text(doc.text, encoding="utf-8", newline="")
        # one thread: a single file gains nothing from a pool, and a busy machine loses
        common = [binary, *args, "--no-ignore", "--threads=1", "-f", "json"]
        report, fixing = await asyncio.gather(
            run(NAME, [*common, str(lint)], complaints, cwd=tmp),
            run(NAME, [*common, "--fix", "--fix-suggestions", str(fix)], complaints, cwd=tmp),
        )
        fixed = doc.text
        if fixing is not None:
            with open(fix, encoding="utf-8", newline="") as handle:  # keep CRLF as it was
                fixed = handle.read()
    if report is None:
        return []
    try:
        items = json.loads(report.out or b"{}").get("diagnostics") or []
    except (json.JSONDecodeError, AttributeError):
        complaints.once(NAME, "its JSON report could not be read")
        return []
    index = TextIndex(doc.text)
    found: list[Finding] = []
    spans: list[tuple[int, int]] = []
    for item in items:
        finding = to_finding(item, index)
        if finding is None:
            continue
        span = (item.get("labels") or [{}])[0].get("span") or {}
        offset = int(span.get("offset", 0))
        end = offset + int(span.get("length", 0))
        spans.append((index.char_offset(offset), index.char_offset(end)))
        found.append(finding)
    if fixed != doc.text:
        attach_fixes(found, spans, index, fixed)
    return found

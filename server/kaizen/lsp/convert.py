"""Finding <-> Diagnostic / CodeAction, and the one place positions change encoding.

Pipelines count columns in code points; editors count in the negotiated encoding (UTF-16
unless the client asked for another). pygls' ``PositionCodec`` does the conversion, so a line
full of emoji still gets the right range.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from ..core.findings import Edit, Finding

SOURCE = "kaizen"
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def position(codec: PositionCodec, lines: list[str], line: int, col: int) -> types.Position:
    if line >= len(lines):
        return types.Position(line=len(lines), character=0)
    return codec.position_to_client_units(lines, ServerTextPosition(line, col))


def finding_range(codec: PositionCodec, lines: list[str], f: Finding) -> types.Range:
    start_text = lines[f.start_line - 1]
    start_col = f.start_col
    if start_col is None:
        start_col = len(start_text) - len(start_text.lstrip())
    end_col = f.end_col if f.end_col is not None else len(lines[f.end_line - 1])
    return types.Range(
        start=position(codec, lines, f.start_line - 1, start_col),
        end=position(codec, lines, f.end_line - 1, end_col),
    )


def edit_range(codec: PositionCodec, lines: list[str], e: Edit) -> types.Range:
    return types.Range(
        start=position(codec, lines, e.start_line, e.start_col),
        end=position(codec, lines, e.end_line, e.end_col),
    )


def diagnostic_data(f: Finding) -> dict[str, Any]:
    return {
        "fingerprint": f.fingerprint,
        "pipeline": f.pipeline,
        "model": f.model,
        "origin": f.origin,
        "learnings": f.learnings,
        "hasFix": f.has_fix,
        "confidence": f.confidence,
    }


def to_diagnostic(codec: PositionCodec, lines: list[str], f: Finding) -> types.Diagnostic:
    message = f.message
    if f.learnings_used:
        count = len(f.learnings)
        message += f" (informed by {count} past learning{'s' if count != 1 else ''})"
    if f.confidence is not None and f.confidence_why:
        message += f" (confidence {f.confidence:.0%}: {f.confidence_why})"
    return types.Diagnostic(
        range=finding_range(codec, lines, f),
        message=message,
        severity=SEVERITY.get(f.severity, types.DiagnosticSeverity.Warning),
        source=SOURCE if f.origin == "model" else f"{SOURCE} ({f.origin})",
        code=f.code or f.category,
        code_description=types.CodeDescription(href=f.code_url) if f.code_url else None,
        data=diagnostic_data(f),
    )


def text_edits(codec: PositionCodec, lines: list[str], f: Finding) -> list[types.TextEdit]:
    return [types.TextEdit(range=edit_range(codec, lines, e), new_text=e.new_text) for e in f.edits]


def fingerprint_of(diagnostic: types.Diagnostic) -> str | None:
    data = diagnostic.data
    if isinstance(data, dict) and isinstance(data.get("fingerprint"), str):
        return data["fingerprint"]
    return None

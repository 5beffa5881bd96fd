"""What several ``kaizen`` subcommands share: reading a file as a ``Document`` and turning
the model options of the command line into the editor layer of the settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.document import Document


def read_document(path: Path) -> Document | str:
    """The document, or why it cannot be read as text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"{path}: cannot read ({exc.strerror})"
    if b"\x00" in data[:8192]:
        return f"{path}: binary file, skipped"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{path}: not valid UTF-8 (byte {exc.start}), skipped"
    return Document(uri=path.resolve().as_uri(), path=path.resolve(), text=text)


def editor_overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    choice = {"provider": args.provider, "model": args.model, "apiBase": args.api_base}
    if any(choice.values()):
        out["autofix"] = out["refactor"] = {k: v for k, v in choice.items() if v}
    if args.static_only or args.no_static:
        out["staticPrepass"] = {"enabled": not args.no_static, "only": bool(args.static_only)}
    if args.database:
        out["databasePath"] = args.database
    if getattr(args, "no_cache", False):
        out["review"] = {"cache": False}
    return out

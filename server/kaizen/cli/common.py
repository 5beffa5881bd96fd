"""What several ``kaizen`` subcommands share: reading a file as a ``Document`` and turning
the model options of the command line into the editor layer of the settings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from ..core.document import Document
from ..core.errors import KaizenError


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


def cli_settings(overrides: dict[str, Any]) -> Settings:
    """The settings for a command run in this directory; each problem printed once.

    A configuration file that does not parse stops the command (exit 2): running on the
    defaults instead would review with settings the user did not write.
    """
    settings, problems = load_settings(Path.cwd(), overrides)
    fatal = [p for p in problems if getattr(p, "fatal", False)]
    for problem in problems:
        if problem not in fatal:
            print(f"kaizen: {problem}", file=sys.stderr)
    if fatal:
        raise KaizenError("; ".join(fatal))
    return settings

"""``kaizen dismiss FINGERPRINT|PATH:LINE --reason ...``: the editor's Dismiss from a terminal.

The finding must have been recorded by a run (``kaizen check`` or the editor); it is then
suppressed by every face (editor, ``kaizen check`` text/JSON, SARIF with a ``suppressions``
entry) and its reason becomes a lesson. Same operation as the ``dismiss_finding`` tool.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

_LOCATION = re.compile(r"^(?P<path>.+):(?P<line>\d+)$")


def add_dismiss_command(sub: Any) -> None:
    p = sub.add_parser("dismiss", help="dismiss a finding (by fingerprint or PATH:LINE)")
    p.add_argument("target", help="a fingerprint, or PATH:LINE of a recorded finding")
    p.add_argument("--reason", help="why it is not a problem (the SARIF justification)")
    p.add_argument("--repository", help="the repository, when a fingerprint is in several")
    p.add_argument("--database", help="database path or URL")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run_dismiss)


def arguments(target: str, reason: str | None, repository: str | None) -> dict[str, Any]:
    """PATH:LINE when it looks like one (and the path exists or has a slash or dot), else a
    fingerprint."""
    from pathlib import Path

    args: dict[str, Any] = {"reason": reason, "repository": repository}
    if (m := _LOCATION.match(target)) and (
        Path(m["path"]).exists() or "/" in m["path"] or "." in m["path"]
    ):
        args.update(path=m["path"], line=int(m["line"]))
    else:
        args["fingerprint"] = target
    return {k: v for k, v in args.items() if v is not None}


def run_dismiss(args: argparse.Namespace) -> int:
    from ..tools.operations import ToolError
    from ..tools.table import TOOLS, Context

    try:
        ctx = Context.open(args.database)
    except Exception as exc:
        print(f"kaizen: cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        out = TOOLS["dismiss_finding"].call(
            ctx, arguments(args.target, args.reason, args.repository), mode="editor"
        )
    except ToolError as exc:
        print(f"kaizen: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.close()
    if args.format == "json":
        print(json.dumps(out, indent=2))
        return 0
    d = out["dismissed"]
    why = f" ({d['reason']})" if d["reason"] else ""
    print(f"Dismissed {d['fingerprint']} [{d['category']}] {d['message']}{why}")
    return 0

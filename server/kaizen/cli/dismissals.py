"""``kaizen dismissals list`` and ``kaizen undismiss ID|FINGERPRINT``: what is dismissed,
and the way back.

A dismissal suppresses its finding in every face, and findings like it within
``review.dismissScope``; these commands show each dismissal with the id that undoes it. Both
run the tool table's ``list_dismissals`` / ``undismiss_finding`` (the same operations as
the MCP tools, the HTTP routes and the editor's ``kaizen.listDismissals`` /
``kaizen.undismiss``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_dismissals_commands(sub: Any) -> None:
    parser = sub.add_parser("dismissals", help="list the dismissals in force")
    actions = parser.add_subparsers(dest="action")
    listing = actions.add_parser("list", help="newest first (the default)")
    for p in (parser, listing):
        default = None if p is parser else argparse.SUPPRESS
        p.add_argument("--repository", help="only this repository (owner/name)", default=default)
        p.add_argument("--database", help="database path or URL", default=default)
        p.add_argument(
            "--format",
            choices=("text", "json"),
            default="text" if p is parser else argparse.SUPPRESS,
        )
    parser.set_defaults(func=run_list)
    undo = sub.add_parser("undismiss", help="undo a dismissal (by id or fingerprint)")
    undo.add_argument("target", help="the id `kaizen dismissals list` shows, or a fingerprint")
    undo.add_argument("--repository", help="the repository, when a fingerprint is in several")
    undo.add_argument("--database", help="database path or URL")
    undo.add_argument("--format", choices=("text", "json"), default="text")
    undo.set_defaults(func=run_undismiss)


def _call(tool: str, database: str | None, arguments: dict[str, Any]) -> dict[str, Any] | None:
    from ..tools.operations import ToolError
    from ..tools.table import TOOLS, Context

    try:
        ctx = Context.open(database)
    except Exception as exc:
        print(f"kaizen: cannot open the database: {exc}", file=sys.stderr)
        return None
    try:
        return TOOLS[tool].call(
            ctx, {k: v for k, v in arguments.items() if v is not None}, mode="editor"
        )
    except ToolError as exc:
        print(f"kaizen: {exc}", file=sys.stderr)
        return None
    finally:
        ctx.close()


def run_list(args: argparse.Namespace) -> int:
    out = _call("list_dismissals", args.database, {"repository": args.repository})
    if out is None:
        return 2
    if args.format == "json":
        print(json.dumps(out, indent=2))
        return 0
    rows = out["dismissals"]
    if not rows:
        print("No dismissals.")
        return 0
    print(f"{len(rows)} dismissal{'s' if len(rows) != 1 else ''} (reach: {out['scope']}):")
    for d in rows:
        why = f" (reason: {d['reason']})" if d["reason"] else ""
        print(
            f"  #{d['id']} {d['fingerprint']} {d['path']}:{d['line']} "
            f"[{d['category']}] {d['message']}{why}"
        )
    print("Undo one with `kaizen undismiss ID`.")
    return 0


def run_undismiss(args: argparse.Namespace) -> int:
    out = _call(
        "undismiss_finding", args.database, {"target": args.target, "repository": args.repository}
    )
    if out is None:
        return 2
    if args.format == "json":
        print(json.dumps(out, indent=2))
        return 0
    d = out["undismissed"]
    print(
        f"Undismissed {d['fingerprint']} {d['path']}:{d['line']} [{d['category']}] "
        f"{d['message']}: shown again from the next review"
    )
    return 0

"""``kaizen rules``: the rules Kaizen proposes from outcomes, and the ones the team has.

``suggest`` lists proposals with their evidence (``--all``: and the rules synthesised from
accepted fixes that validation refused, with why), ``accept ID...`` writes them into
``.kaizen/rules/learned.md``, a promoted rule into ``.kaizen/rules/<id>.yml`` (``--pr``: and
opens a pull request with that file),
``reject ID...`` makes sure they are never proposed again, ``list`` shows every rule with
its origin, ``export --agents`` writes the learned rules as a section of AGENTS.md. The
same operations as the ``rules_*`` tools (``tools.rules_ops``) and the editor's commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_rules_command(sub: Any) -> None:
    parser = sub.add_parser("rules", help="learned rule proposals and the team's review rules")
    parser.add_argument("--database", help="database path or URL")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--root", type=Path, help="the repository (default: the current one)")
    actions = parser.add_subparsers(dest="action", required=True)
    suggest = actions.add_parser("suggest", help="proposals from outcomes, with their evidence")
    suggest.add_argument(
        "--all", action="store_true", help="also the synthesised rules validation refused"
    )
    listing = actions.add_parser("list", help="every rule with its origin, and the proposals")
    listing.add_argument("--no-proposals", action="store_true")
    accept = actions.add_parser("accept", help="write proposals into .kaizen/rules/learned.md")
    accept.add_argument("ids", nargs="*")
    accept.add_argument("--all", action="store_true", help="every current proposal")
    accept.add_argument("--pr", action="store_true", help="and open a pull request with it")
    reject = actions.add_parser("reject", help="never propose these again")
    reject.add_argument("ids", nargs="+")
    reject.add_argument("--reason")
    export = actions.add_parser("export", help="write the learned rules into AGENTS.md")
    export.add_argument("--agents", action="store_true", required=True)
    parser.set_defaults(func=run_rules)


def _print_proposals(proposals: list[dict[str, Any]]) -> None:
    if not proposals:
        print("No proposals: the outcome record supports no new rule yet.")
    for p in proposals:
        ev = p["evidence"]
        if p["kind"] == "promote":
            print(f"{p['id']}\n    {p['text']}")
            print(
                f"    evidence: {ev['accepted']} accepted fixes; matches {ev['share']:.2%} "
                "of the repository's lines; the rule:"
            )
            print("\n".join(f"      {line}" for line in ev["rule"].splitlines()))
            continue
        post = ev["posterior"]
        print(f"{p['id']}\n    {p['text']}")
        print(
            f"    evidence: accepted {ev['accepted']}, dismissed {ev['dismissed']}; "
            f"{post['distribution']}, P({post['event']}) = {post['probability']:.3f}"
        )
        for example in ev["examples"]:
            print(f"    e.g. {example['path']}:{example['line']} {example['message'][:80]}")


def _print_refused(refused: list[dict[str, Any]]) -> None:
    for r in refused:
        print(f"{r['id']} (refused: {r['examples']} fixes of `{r['code']}`, {r['language']})")
        for reason in r["reasons"]:
            print(f"    {reason}")


def _export(root: Path | None) -> int:
    from ..rules.learned_file import export_agents
    from ..rules.proposals import Workspace, all_rules

    ws = Workspace.of(root)
    rules, _ = all_rules(ws.root)
    learned = [(r.id, r.text) for r in rules if r.origin == "learned" and r.enabled]
    path, changed = export_agents(ws.root, learned)
    count = f"{len(learned)} learned rule{'s' if len(learned) != 1 else ''}"
    print(f"{'Wrote' if changed else 'Unchanged:'} {count} in {path}")
    return 0


def _pull_request(settings: Any, root: Path | None, paths: dict[str, str]) -> int:
    """One pull request per file written (learned.md, or a promoted rule's .yml)."""
    from ..app.pull_requests import open_rules_pull_request
    from ..github import PullRequestError
    from ..rules.proposals import Workspace

    ws = Workspace.of(root)
    why = (
        "Kaizen proposed these review rules from this repository's outcomes (findings the "
        "team accepted and dismissed, fixes it accepted again and again) and they were "
        "accepted with `kaizen rules accept`."
    )
    by_file: dict[str, list[str]] = {}
    for rule_id, file in paths.items():
        by_file.setdefault(file, []).append(rule_id)
    for file, ids in by_file.items():
        path = Path(file)
        try:
            outcome = open_rules_pull_request(
                settings,
                ws.root,
                path.resolve().relative_to(ws.root.resolve()).as_posix(),
                path.read_text(encoding="utf-8"),
                ids,
                why,
            )
        except PullRequestError as exc:
            print(f"kaizen: could not open a pull request: {exc}", file=sys.stderr)
            return 2
        print(f"Opened {outcome.url}")
    return 0


def run_rules(args: argparse.Namespace) -> int:
    if args.action == "export":
        return _export(args.root)
    from ..memory.store import open_configured
    from ..tools import rules_ops
    from ..tools.operations import ToolError
    from ..tools.table import Context

    settings, store = open_configured(args.database)
    ctx = Context(store, settings, args.root)
    try:
        if args.action == "suggest":
            out = rules_ops.rules_suggest(ctx, {"limit": 500, "includeRefused": args.all})
            if args.format == "json":
                print(json.dumps(out, indent=2))
            else:
                _print_proposals(out["proposals"])
                _print_refused(out.get("refused", []))
            return 0
        if args.action == "list":
            out = rules_ops.rules_list(ctx, {"includeProposals": not args.no_proposals})
            if args.format == "json":
                print(json.dumps(out, indent=2))
                return 0
            for problem in out["problems"]:
                print(f"kaizen: {problem}", file=sys.stderr)
            for rule in out["rules"]:
                where = f"{rule['file']}:{rule['line']}" if rule.get("line") else rule["file"]
                off = "" if rule.get("enabled", True) else " (disabled)"
                print(f"{rule['origin']:<9} {rule['id']}{off}  [{where}]")
            if out.get("proposals"):
                print(f"\n{len(out['proposals'])} proposal(s): kaizen rules suggest")
            return 0
        if args.action == "accept":
            ids = list(args.ids)
            if args.all:
                ids += [p["id"] for p in rules_ops.rules_suggest(ctx, {"limit": 500})["proposals"]]
            if not ids:
                print("kaizen: name the proposals to accept (or --all)", file=sys.stderr)
                return 2
            out = rules_ops.rules_accept(ctx, {"ids": list(dict.fromkeys(ids))})
            if args.format == "json":
                print(json.dumps(out, indent=2))
            else:
                for rule_id in out["added"]:
                    print(f"Accepted {rule_id} -> {out['paths'].get(rule_id, out['path'])}")
                for rule_id in out["alreadyPresent"]:
                    print(f"Already in {out['path']}: {rule_id}")
            if args.pr and out["added"]:
                return _pull_request(settings, args.root, out["paths"])
            return 0
        out = rules_ops.rules_reject(ctx, {"ids": args.ids, "reason": args.reason})
        print(
            json.dumps(out, indent=2)
            if args.format == "json"
            else "\n".join(f"Rejected {i}: not proposed again" for i in out["rejected"])
        )
        return 0
    except ToolError as exc:
        print(f"kaizen: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()

"""``kaizen learnings``: see what Kaizen has learned, search it, and forget what is wrong."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

# memory.insights.KIND_LABELS, spelt out so that building the parser imports no database
# code (tests/test_honest_failures.py checks the two agree)
KINDS = (
    "issue_found",
    "fix_proposed",
    "fix_accepted",
    "finding_rejected",
    "fixed_by_hand",
    "ignored",
    "opportunity_found",
    "improvement_proposed",
    "refactor_accepted",
    "refactor_rejected",
)


def add_learnings_command(sub: Any) -> None:
    parser = sub.add_parser("learnings", help="list, search or delete learnings")
    _common_options(parser, None)
    actions = parser.add_subparsers(dest="action")
    listing = actions.add_parser("list", help="most recent first (the default)")
    listing.add_argument("--repository", help="owner/name, a remote URL or github.com/owner/name")
    listing.add_argument("--kind", choices=KINDS)
    listing.add_argument("--limit", type=int, default=50)
    search = actions.add_parser("search", help="hybrid search, as the prompts use it")
    search.add_argument("query")
    search.add_argument("--repository", help="owner/name, a remote URL or github.com/owner/name")
    search.add_argument("--language")
    search.add_argument("--limit", type=int, default=10)
    weak = actions.add_parser(
        "confidence", help="kinds of finding hidden or demoted by their history (review.*)"
    )
    weak.add_argument("--repository", help="only this repository (default: every one)")
    forget = actions.add_parser("delete", help="forget learnings by id")
    forget.add_argument("ids", nargs="+", type=int)
    edit = actions.add_parser("edit", help="rewrite a learning's text (what prompts are told)")
    edit.add_argument("id", type=int)
    edit.add_argument("--text", required=True, help="the new text")
    for action in (listing, search, forget, edit):  # options after the subcommand work too
        _common_options(action, argparse.SUPPRESS)
    parser.set_defaults(func=run_learnings)


def _common_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """``--database`` and ``--format`` before or after the action: the action's copies
    default to SUPPRESS so they never overwrite a value given before it."""
    parser.add_argument("--database", help="database path or URL", default=default)
    parser.add_argument(
        "--format", choices=("text", "json"), default="text" if default is None else default
    )


def _print(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("No learnings.")
    for row in rows:
        # an insight's occurrences count reports (one per run that found it, in the editor
        # or `kaizen check`), not showings: say so, not "x93"
        n = row["occurrences"]
        times = f" (reported {n} times)" if n > 1 else ""
        print(f"#{row['id']:<5} {row['label']}{times}: {row['summary']}  [{row['repository']}]")


def _print_confidence(store: Any, settings: Any, args: argparse.Namespace) -> int:
    """The (repository, code, source) keys whose findings are hidden (below
    review.minConfidence) or demoted (below review.demoteBelow), with the outcomes why."""
    from ..memory.confidence import low_confidence

    review = settings.review
    rows = low_confidence(store, args.repository, review.min_confidence, review.demote_below)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("No kind of finding is hidden or demoted by its history.")
    for row in rows:
        print(
            f"{row['effect']:<8} {row['confidence']:>4.0%} [{row['code']}] {row['source']}: "
            f"{row['why']}  [{row['repository']}]"
        )
    print(
        f"(hidden below review.minConfidence {review.min_confidence:g}, demoted one severity "
        f"step below review.demoteBelow {review.demote_below:g})"
    )
    return 0


def run_learnings(args: argparse.Namespace) -> int:
    from ..memory.catalog import list_learnings, missing_after_delete, search_learnings
    from ..memory.loop import LearningLoop
    from ..memory.store import open_configured

    settings, store = open_configured(args.database)
    try:
        action = args.action or "list"
        if action == "delete":
            missing = missing_after_delete(store, args.ids)
            removed = len(args.ids) - len(missing)
            print(f"Deleted {removed} learning{'s' if removed != 1 else ''}.")
            if missing:
                names = ", ".join(str(i) for i in missing)
                print(f"kaizen: no learning with id {names}: nothing to delete", file=sys.stderr)
                return 1
            return 0
        if action == "edit":
            from ..core.errors import KaizenError
            from ..rules.learning_edit import edit_learning

            try:
                embedder = LearningLoop(store, settings).embedder
                row = edit_learning(store, embedder, args.id, args.text)
            except KaizenError as exc:
                print(f"kaizen: {exc}", file=sys.stderr)
                return 1 if str(exc).startswith("no learning") else 2
            if args.format == "json":
                print(json.dumps(row, indent=2))
            else:
                print(f"Learning #{row['id']} now reads: {row['summary']}")
            return 0
        if action == "confidence":
            return _print_confidence(store, settings, args)
        if action == "search":
            loop = LearningLoop(store, settings)
            rows = search_learnings(
                store,
                loop.embedder,
                args.query,
                repository=args.repository,
                language=args.language,
                limit=args.limit,
            )
        else:
            rows = list_learnings(
                store,
                repository=getattr(args, "repository", None),
                kind=getattr(args, "kind", None),
                limit=getattr(args, "limit", 50),
            )
        _print(rows, args.format)
        return 0
    except BrokenPipeError:  # the reader left (``| head``): main ends quietly
        raise
    except Exception as exc:  # a broken database is reported, not a traceback
        print(f"kaizen: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()

"""``kaizen metrics`` (the analysis report) and ``kaizen regression-tests`` (list, generate
and write the tests Kaizen made from its bug patterns), over the same operations the LSP
commands use (``tools.operations``)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

RUN_HERE = Path("")  # --run without DIR: a scratch directory


def add_record_commands(sub: Any) -> None:
    metrics = sub.add_parser("metrics", help="the self-improvement report: models, bugs, tests")
    metrics.add_argument("--format", choices=("text", "json"), default="text")
    metrics.add_argument("--task-type", help="only this task type (e.g. issue_detector)")
    metrics.add_argument("--recent", type=int, default=10, help="how many recent bugs to list")
    metrics.add_argument("--database", help="database path or URL")
    metrics.set_defaults(func=run_metrics)

    tests = sub.add_parser(
        "regression-tests",
        help="list the generated regression tests, write them as files, or run them",
    )
    tests.add_argument("--write", metavar="DIR", type=Path, help="write each test to DIR")
    tests.add_argument(
        "--run",
        metavar="DIR",
        nargs="?",
        type=Path,
        const=RUN_HERE,
        help="write the tests (to DIR, else a scratch directory), run them with pytest and "
        "record each result; exit 1 if one fails",
    )
    tests.add_argument(
        "--generate",
        action="store_true",
        help="first generate a test for every bug pattern that has none",
    )
    tests.add_argument("--category", help="only tests of this bug category")
    tests.add_argument("--format", choices=("text", "json"), default="text")
    tests.add_argument("--database", help="database path or URL")
    tests.set_defaults(func=run_regression_tests)


def _open(args: argparse.Namespace) -> tuple[Any, Any] | None:
    """(store, settings) for ``--database``, or None after saying why it cannot be opened."""
    from ..memory.store import open_configured

    try:
        settings, store = open_configured(args.database)
    except Exception as exc:
        print(f"kaizen: cannot open the database: {exc}", file=sys.stderr)
        return None
    return store, settings


def run_metrics(args: argparse.Namespace) -> int:
    from ..tools.operations import analyze_metrics

    if (opened := _open(args)) is None:
        return 2
    store, settings = opened
    try:
        report = analyze_metrics(
            store, {"taskType": args.task_type, "recent": args.recent}, settings
        )
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(report, indent=2, default=str))
    else:
        sys.stdout.write(render_report(report))
    return 0


def render_report(report: dict[str, Any]) -> str:
    """The text of ``kaizen metrics``: the self-improvement report, then rules by source."""
    from ..improvement.report import render_text

    text = render_text(report)
    if report.get("rules"):
        from ..rules.metrics import render_text as render_rules

        text += "\n" + render_rules(report["rules"])
    return text


def run_regression_tests(args: argparse.Namespace) -> int:
    from ..improvement.regression import write
    from ..tools.operations import generate_regression_test, get_regression_tests

    if (opened := _open(args)) is None:
        return 2
    store, _settings = opened
    try:
        skipped: list[dict[str, Any]] = []
        if args.generate:
            skipped = generate_regression_test(store, {"all": True})["skipped"]
        if args.run is not None:
            from ..improvement import regression_run

            directory = None if args.run == RUN_HERE else args.run
            outcome = regression_run.run(store, directory, args.category)
        else:
            tests = get_regression_tests(store, {"category": args.category})["regressionTests"]
    finally:
        store.close()
    for item in skipped:
        print(f"kaizen: bug pattern #{item['bugPatternId']}: {item['reason']}", file=sys.stderr)
    if args.run is not None:
        return report_run(outcome, args.format)
    if args.write:
        paths = write(tests, args.write)
        for path in paths:
            print(path)
        # the interpreter Kaizen runs in: the tests import kaizen and need its packages
        command = f"{shlex.quote(sys.executable)} -m pytest {shlex.quote(str(args.write))}"
        print(
            f"Wrote {len(paths)} test file{'s' if len(paths) != 1 else ''} to {args.write}; "
            f"run them with: {command}",
            file=sys.stderr,
        )
        return 0
    if args.format == "json":
        print(json.dumps(tests, indent=2))
        return 0
    if not tests:
        print("No regression tests yet (kaizen regression-tests --generate makes them from bugs).")
    for test in tests:
        print(f"#{test['id']} {test['testName']} [{test['category']}]")
        print(f"    {test['expectedBehavior']}")
        print(f"    from {test['discoveredFrom']}")
    return 0


def report_run(outcome: dict[str, Any], fmt: str) -> int:
    """Print a ``--run``; exit 1 when a test failed (or could not run), 0 otherwise."""
    if fmt == "json":
        print(json.dumps(outcome, indent=2))
    else:
        for r in outcome["results"]:
            print(f"{r['result'].upper():<7} {r['testName']} ({r['durationS']:.2f} s)")
            if r["result"] in ("failed", "error") and r["message"]:
                print(f"        {r['message'].splitlines()[0][:200]}")
        if not outcome["ran"]:
            print(
                "No regression tests yet (kaizen regression-tests --generate makes them from bugs)."
            )
        else:
            print(f"{outcome['passed']} passed, {outcome['failed']} failed of {outcome['ran']}.")
    if outcome["failed"] and outcome.get("output"):
        print(outcome["output"], file=sys.stderr)
    return 1 if outcome["failed"] or outcome["exitCode"] not in (0, 5) else 0

"""``kaizen routing experiment start A B | status | stop [--promote]``: A/B experiments of
routing strategies from the terminal, over the same operation as the LSP command
``kaizen.routingExperiment`` and the MCP/HTTP tool ``routing_experiment``.

A strategy is a cost weight (``0.05``) or a JSON object
(``'{"name": "cheap", "costWeight": 0.3}'``, ``'{"policy": "statistics"}'``,
``'{"rules": [{"pattern": "tests/", "preferredLayer": "fast"}]}'``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_routing_command(sub: Any) -> None:
    routing = sub.add_parser("routing", help="routing experiments (A/B tests of strategies)")
    actions = routing.add_subparsers(dest="routing_action", required=True)
    experiment = actions.add_parser("experiment", help="start, inspect or stop an A/B test")
    steps = experiment.add_subparsers(dest="step", required=True)
    start = steps.add_parser("start", help="split live tasks between strategies A and B")
    start.add_argument("a", help="strategy A: a cost weight or a JSON object")
    start.add_argument("b", help="strategy B")
    start.add_argument("--cost-weight", type=float, default=0.1, help="cost in the utility")
    start.add_argument("--alpha", type=float, default=0.05, help="the test's error rate")
    start.add_argument("--max-tasks", type=int, default=2000, help="stop after this many")
    status = steps.add_parser("status", help="each arm's figures and the test's state")
    stop = steps.add_parser("stop", help="stop the experiment")
    stop.add_argument("--promote", action="store_true", help="make the winner the strategy")
    for parser in (start, status, stop):
        parser.add_argument("--format", choices=("text", "json"), default="text")
        parser.add_argument("--database", help="database path or URL")
    routing.set_defaults(func=run_routing)


def _strategy(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def run_routing(args: argparse.Namespace) -> int:
    from ..memory.store import open_configured
    from ..tools.operations import ToolError, routing_experiment

    request: dict[str, Any] = {"action": args.step}
    if args.step == "start":
        request.update(
            a=_strategy(args.a),
            b=_strategy(args.b),
            costWeight=args.cost_weight,
            alpha=args.alpha,
            maxTasks=args.max_tasks,
        )
    if args.step == "stop":
        request["promote"] = args.promote
    settings, store = open_configured(args.database)
    try:
        result = routing_experiment(store, request, settings)
    except ToolError as exc:
        print(f"kaizen: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(describe(result))
    return 0


def describe(result: dict[str, Any]) -> str:
    """The experiment, its arms and the test, one line each (``--format json``: all)."""
    experiment = result.get("experiment") or result.get("stopped")
    if not experiment:
        return "No routing experiment yet (kaizen routing experiment start A B)."
    head = f"Experiment #{experiment.get('id')}: {experiment.get('status')}"
    if experiment.get("winner"):
        head += f", winner {str(experiment['winner']).upper()}"
    if result.get("promoted") or experiment.get("promoted"):
        head += " (promoted)"
    lines = [head]
    for name, arm in (result.get("arms") or {}).items():
        strategy = arm.get("strategy") or {}
        lines.append(
            f"  {name.upper()} {strategy.get('name', '')}: {arm.get('tasks', 0)} tasks, "
            f"{arm.get('resolved', 0)} resolved, quality {arm.get('quality')}, "
            f"cost ${arm.get('costUsd', 0.0):.4f}"
        )
    if test := result.get("test"):
        lines.append(f"  test: p-value {test.get('pValue')}, difference {test.get('difference')}")
    if reason := result.get("reason") or experiment.get("reason"):
        lines.append(f"  {reason}")
    return "\n".join(lines)

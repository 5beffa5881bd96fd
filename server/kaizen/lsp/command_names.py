"""The names of the editor's commands, for the ``initialize`` answer.

The answer lists every ``workspace/executeCommand`` Kaizen serves, and it goes out before
the modules that define them are imported: ``commands`` (the editor's own) and
``tool_commands`` (one per tool of ``tools.table`` with a command name) need pydantic and
most of Kaizen, which ``initialize`` must not wait for. So the names are kept here, in the
order those modules give them, and tests/test_startup.py fails when they differ
(regenerate with ``python -m kaizen.lsp.command_names``). The handlers themselves are the
real ones, imported on the first command (``handlers``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

COMMANDS = (
    "kaizen.getStatus",
    "kaizen.setModel",
    "kaizen.runAutofix",
    "kaizen.runRefactor",
    "kaizen.recordOutcome",
    "kaizen.acceptSimilar",
    "kaizen.dismiss",
    "kaizen.listRefactors",
    "kaizen.createPullRequest",
    "kaizen.listLearnings",
    "kaizen.deleteLearning",
    "kaizen.documentInfo",
    "kaizen.analyzeMetrics",
    "kaizen.getRegressionTests",
    "kaizen.runRegressionTests",
    "kaizen.generateRegressionTest",
    "kaizen.getRoutingHeuristics",
    "kaizen.updateRoutingHeuristic",
    "kaizen.getBugPatterns",
    "kaizen.recordBugPattern",
    "kaizen.recordMetric",
    "kaizen.updateModelPerformance",
    "kaizen.listDismissals",
    "kaizen.undismiss",
    "kaizen.routingExperiment",
    "kaizen.rulesSuggest",
    "kaizen.rulesList",
    "kaizen.rulesAccept",
    "kaizen.rulesReject",
)


@cache
def handlers() -> dict[str, Callable[..., Awaitable[Any]]]:
    """Command name -> its handler, from ``commands`` and ``tool_commands``."""
    from . import commands, tool_commands

    return {**commands.handlers(), **tool_commands.handlers()}


def generated() -> tuple[str, ...]:
    """The names as the two modules give them today (what ``COMMANDS`` must equal)."""
    from . import commands, tool_commands

    return (*commands.handlers(), *tool_commands.handlers())


if __name__ == "__main__":
    print("COMMANDS = (")
    for name in generated():
        print(f'    "{name}",')
    print(")")

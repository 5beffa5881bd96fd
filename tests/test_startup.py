"""What ``kaizen serve`` loads before it can answer ``initialize``.

The heavy libraries (SQLAlchemy for the database, numpy for the contextual router, litellm
for model calls, httpx, rich) are loaded after the first paint or on first use; a module-level
import of any of them on the start path would add 0.1-4 s to every editor start, which a
unit test cannot see but a user does (benchmarks/bench_lsp.py measures the time itself).
pydantic (the settings, the commands' arguments) and the session's parts come right after
the ``initialize`` answer: ~0.2 s that a bare pygls server does not pay before it.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("sqlalchemy", "numpy", "litellm", "openai", "httpx", "rich", "prometheus_client",
         "github", "sqlite_vec", "jedi", "pydantic", "kaizen.config", "kaizen.app.services",
         "kaizen.pipelines.base", "kaizen.tools.table")

START_PATH = """
import json, sys
from kaizen.cli.main import build_parser
build_parser().parse_args(["serve"])
from kaizen.lsp import create_server
create_server()
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def test_the_server_start_path_imports_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", START_PATH.format(heavy=HEAVY)],
        capture_output=True, text=True, timeout=60, cwd=ROOT / "server",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_initialize_answer_lists_every_command_kaizen_serves() -> None:
    """The names listed before the commands' modules are imported are exactly theirs."""
    from kaizen.lsp import command_names

    assert command_names.generated() == command_names.COMMANDS, (
        "regenerate kaizen/lsp/command_names.py: python -m kaizen.lsp.command_names"
    )
    assert set(command_names.handlers()) == set(command_names.COMMANDS)

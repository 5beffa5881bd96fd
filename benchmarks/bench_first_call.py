"""The first model call of a ``kaizen check`` process, as the record sees it.

A CLI process pays for litellm's import, its Router and the OpenAI SDK's lazily imported
chat client once. None of that is model latency: if it were recorded as such, ``kaizen
metrics`` would show seconds for a server that answers in milliseconds and the router would
learn it. This runs ``kaizen check`` on two files against the scripted model server (real
HTTP on 127.0.0.1) in ``--runs`` fresh processes and fresh homes, reads the latencies
recorded in ``model_calls``, and reports the first call of each process beside the later
calls of the same runs (the baseline: same server, same machine, same moment).

    python benchmarks/bench_first_call.py [--runs 5] [--server-path server]

``--server-path`` points at another checkout's ``server/`` to compare before and after.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import save, summary
from tests.fixtures.scripted_model import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
CODE = "def mean(xs):\n    return sum(xs) / len(xs)\n"


def one_run(server_path: Path, url: str, work: Path) -> list[float]:
    home, project = work / "home", work / "project"
    project.mkdir(parents=True)
    for name in ("a.py", "b.py"):
        (project / name).write_text(CODE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIZEN_")}
    env.update(KAIZEN_HOME=str(home), PYTHONPATH=str(server_path), OPENAI_API_KEY="sk-bench")
    subprocess.run(
        [sys.executable, "-m", "kaizen", "check", "--no-static", "--provider", "openai",
         "--model", "scripted", "--api-base", url, "a.py", "b.py"],
        cwd=project, env=env, capture_output=True, timeout=300, check=False,
    )
    db = sqlite3.connect(home / "kaizen.db")
    try:
        return [row[0] for row in db.execute("SELECT latency_ms FROM model_calls ORDER BY id")]
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--server-path", default=str(ROOT / "server"))
    args = parser.parse_args()
    first: list[float] = []
    later: list[float] = []
    with ScriptedModel() as scripted, tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            latencies = one_run(Path(args.server_path), scripted.url, Path(tmp) / str(i))
            if len(latencies) < 2:
                print(f"run {i}: {len(latencies)} calls recorded", file=sys.stderr)
                return 1
            first.append(latencies[0])
            later.extend(latencies[1:])
    result = {
        "server_path": args.server_path,
        "first_call_ms": summary(first),
        "later_calls_ms (baseline)": summary(later),
        "ratio_p50": round(summary(first)["p50"] / summary(later)["p50"], 1),
    }
    print(result)
    save("first_call", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

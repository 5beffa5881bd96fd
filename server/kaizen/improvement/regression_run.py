"""Run the generated regression tests, and remember how each one did.

The stored tests are written to a directory (one module per test, as ``kaizen
regression-tests --write`` does) and run by pytest in a subprocess
(``sys.executable -m pytest``: the same interpreter, so the same Kaizen) with a JUnit XML
report, the one format pytest guarantees to be machine-readable. Each test's result
(``passed`` / ``failed`` / ``error`` / ``skipped``), duration and time are stored on its
``regression_tests`` row, so the editor, MCP and HTTP see the last run without rerunning it.
A test missing from the report (pytest could not collect it) counts as ``error``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from sqlalchemy import update

from ..memory.schema import RegressionTest, utcnow
from .regression import list_tests, write

RUN_TIMEOUT_S = 600.0
OUTPUT_LIMIT = 4000


def module_name(test_name: str) -> str:
    return re.sub(r"\W", "_", test_name)


def junit_results(report: Path) -> dict[str, tuple[str, float, str]]:
    """``{module: (result, seconds, message)}`` from pytest's JUnit XML."""
    out: dict[str, tuple[str, float, str]] = {}
    if not report.exists():
        return out
    for case in ET.parse(report).getroot().iter("testcase"):
        module = (case.get("classname") or "").split(".")[-1] or (case.get("file") or "")
        seconds = float(case.get("time") or 0.0)
        result, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            if (node := case.find(kind)) is not None:
                result = {"failure": "failed"}.get(kind, kind)
                message = (node.get("message") or node.text or "")[:OUTPUT_LIMIT]
                break
        previous = out.get(module)
        if previous is None or _worse(result, previous[0]):
            out[module] = (result, seconds + (previous[1] if previous else 0.0), message)
    return out


def _worse(a: str, b: str) -> bool:
    order = ["passed", "skipped", "failed", "error"]
    return order.index(a) > order.index(b)


def run(
    store: Any,
    directory: Path | None = None,
    category: str | None = None,
    timeout_s: float = RUN_TIMEOUT_S,
) -> dict[str, Any]:
    """Write, run and record; ``{"ran", "passed", "failed", "results": [...], "exitCode"}``.
    ``exitCode`` is pytest's (0 all passed, 1 a test failed, ...; 5 nothing to run)."""
    tests = list_tests(store, category)
    if not tests:
        return {"ran": 0, "passed": 0, "failed": 0, "results": [], "exitCode": 0}
    with tempfile.TemporaryDirectory(prefix="kaizen-regression-") as scratch:
        where = Path(directory) if directory is not None else Path(scratch) / "tests"
        paths = write(tests, where)
        report = Path(scratch) / "junit.xml"
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"--junitxml={report}", "-o", "junit_family=xunit2", "--rootdir", str(where),
            *map(str, paths),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, cwd=where, capture_output=True, text=True, timeout=timeout_s
            )
            exit_code, output = done.returncode, (done.stdout + done.stderr)[-OUTPUT_LIMIT:]
        except subprocess.TimeoutExpired:
            exit_code, output = 124, f"pytest did not finish in {timeout_s:.0f} s"
        by_module = junit_results(report)
    now = utcnow()
    results = []
    with store.sessions.begin() as s:
        for test in tests:
            result, seconds, message = by_module.get(
                module_name(test["testName"]), ("error", 0.0, "not run (see the output)")
            )
            s.execute(
                update(RegressionTest)
                .where(RegressionTest.id == test["id"])
                .values(last_result=result, last_run_at=now, last_duration_s=seconds)
            )
            results.append(
                {
                    "id": test["id"],
                    "testName": test["testName"],
                    "result": result,
                    "durationS": round(seconds, 3),
                    "message": message,
                }
            )
    failed = sum(r["result"] in ("failed", "error") for r in results)
    return {
        "ran": len(results),
        "passed": sum(r["result"] == "passed" for r in results),
        "failed": failed,
        "results": results,
        "exitCode": exit_code,
        "output": output if exit_code not in (0,) else "",
        "directory": str(directory) if directory is not None else None,
    }

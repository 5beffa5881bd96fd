"""Every number is counted once and named for what it counts (issue 24): a scripted session
of known size, then every figure of ``kaizen metrics --format json``, ``kaizen check
--stats``, the learnings list and the HTTP ``/metrics`` checked against the scripted model
server's request log and the database.

The session: two files, three ``kaizen check`` runs (answered, from the cache, and with the
model's endpoint refusing connections), one dismissal in between; then one file opened and
saved once in the editor (two showings)."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types

from kaizen.config import Settings
from kaizen.http import make_server
from kaizen.memory.store import Store
from kaizen.tools.table import Context
from tests.conftest import model_options, open_document, wait_for_diagnostics
from tests.test_cli import kaizen
from tests.test_honest_failures import refused_url
from tests.test_telemetry import families, sample, scrape

FILES = {
    "a.py": "def mean(xs):\n    return sum(xs) / len(xs)\n",
    "b.py": "def first(xs):\n    return xs[0]\n",
}
MESSAGE = "Fails on an empty list"
MODEL = "openai/scripted"


def stats_line(stderr: str) -> tuple[int, int, int, int]:
    """(files, reviewed, cached, not answered) from ``kaizen: 2 files, 1 reviewed, ...``."""
    m = re.search(r"kaizen: (\d+) files?, (\d+) reviewed, (\d+) cached(?:, (\d+) not answered)?",
                  stderr)
    assert m, stderr
    return int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0)


def db(home: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(home / "kaizen.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_a_scripted_session_adds_up(start_client, scripted, kaizen_home, project):
    for name, text in FILES.items():
        (project / name).write_text(text)
    scripted.set_default("issue_detector", {"issues": [
        {"line": 2, "severity": "warning", "category": "bug", "message": MESSAGE}]})
    check = ["check", "--no-static", "--stats", "--jobs", "1", "--format", "json", *FILES]

    first = kaizen(check, scripted, kaizen_home, project)
    assert first.returncode == 1, first.stderr
    findings = json.loads(first.stdout)["findings"]
    assert len(findings) == 2
    detector_calls = len(scripted.requests_for("issue_detector"))
    fix_calls = len(scripted.requests_for("fix_generator"))
    assert (detector_calls, fix_calls) == (2, 2)  # one batch a file, each with a finding
    units = db(kaizen_home, "select count(*) from unit_reviews")[0][0]
    assert stats_line(first.stderr) == (2, units, 0, 0)  # reviewed: answered and cached

    # planned and run again, every unit from the unit cache (the check cache, which would
    # answer this re-run without running a pipeline, records no run: counted in test_check_cache)
    second = kaizen([*check[:-2], "--no-check-cache", *FILES], scripted, kaizen_home, project)
    assert second.returncode == 1
    assert stats_line(second.stderr) == (2, 0, units, 0)
    assert len(scripted.requests) == detector_calls + fix_calls  # nothing asked again

    dismissed = next(f for f in findings if f["path"] == "a.py")
    assert kaizen(["dismiss", dismissed["fingerprint"]], scripted, kaizen_home,
                  project).returncode == 0

    # the same model at an address nobody listens on: sent, never answered, never reached
    refused = [*check[:-2], "--no-cache", "--api-base", refused_url(), *FILES]
    third = kaizen(refused, scripted, kaizen_home, project)
    assert third.returncode == 2
    assert stats_line(third.stderr) == (2, 0, 0, units)
    assert len(scripted.requests) == detector_calls + fix_calls

    # kaizen metrics: runs are runs, calls are the log's, success leaves the refused out
    report = json.loads(kaizen(["metrics", "--format", "json"], scripted, kaizen_home,
                               project).stdout)
    runs = dict(db(kaizen_home, "select status, count(*) from runs group by status"))
    assert report["counts"]["runs"] == runs == {"succeeded": 4, "failed": 2}  # 3 checks x 2 files
    rows = {(r["taskType"], r["model"]): r for r in report["models"]}
    detect, fix = rows[("issue_detector", MODEL)], rows[("fix_generator", MODEL)]
    assert detect["calls"] == detector_calls + 2 and detect["unreached"] == 2
    assert detect["errors"] == 2 and detect["invalid"] == 0
    assert detect["successRate"] == 1.0  # of the calls that reached the model
    assert (detect["accepted"], detect["rejected"], detect["dropped"]) == (0, 1, 0)
    assert fix["calls"] == fix_calls and fix["successRate"] == 1.0
    calls = dict(db(kaizen_home, "select task, count(*) from model_calls group by task"))
    assert calls == {"issue_detector": detect["calls"], "fix_generator": fix["calls"]}
    assert db(kaizen_home, "select count(*) from model_calls where reached = 0") == [(2,)]
    assert report["counts"]["droppedFindings"]["total"] == 0
    text = kaizen(["metrics"], scripted, kaizen_home, project).stdout
    assert "Pipeline runs (one per document and pipeline" in text and ": 6 (" in text
    assert "2 calls never reached the model" in text
    assert "findings: 0 accepted, 1 dismissed, 0 dropped by grounding" in text

    # the learnings list: a lesson counts the runs that reported it, and says so
    learned = json.loads(kaizen(["learnings", "--format", "json", "list"], scripted, kaizen_home,
                                project).stdout)
    found = {r["kind"]: r for r in learned}
    reports = db(kaizen_home, "select sum(findings_count) from runs where pipeline = 'autofix'")
    assert found["issue_found"]["occurrences"] == reports[0][0] == 4  # 2 runs x 2 files
    assert found["finding_rejected"]["occurrences"] == 1
    listing = kaizen(["learnings", "list"], scripted, kaizen_home, project).stdout
    assert f"Found before (reported 4 times): [bug] {MESSAGE}" in listing
    # nothing was shown in an editor: `kaizen check` findings are recorded, not "shown"
    assert db(kaizen_home, "select sum(times_shown) from findings") == [(0,)]

    # /metrics, from the same record
    ctx = Context(Store.open(kaizen_home / "kaizen.db"), Settings())
    server = make_server(ctx, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        fams = families(scrape(f"http://127.0.0.1:{server.server_address[1]}/metrics"))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        ctx.close()
    detector = {"model": MODEL, "task_type": "issue_detector"}
    assert sample(fams, "kaizen_model_calls_total", **detector, outcome="ok") == detector_calls
    assert sample(fams, "kaizen_model_calls_total", **detector, outcome="error") == 2
    assert sample(fams, "kaizen_model_calls_total", model=MODEL, task_type="fix_generator",
                  outcome="ok") == fix_calls
    assert sample(fams, "kaizen_finding_outcomes_total", **detector, outcome="dismissed") == 1
    assert sample(fams, "kaizen_findings_shown_total", pipeline="autofix", origin="model") == 0
    assert sample(fams, "kaizen_findings", pipeline="autofix", origin="model",
                  status="rejected") == 1

    # the editor: b.py opened, then saved unchanged: two runs, two showings, two reports
    client = await start_client(model_options(scripted, model="scripted"))
    uri = open_document(client, project / "b.py", FILES["b.py"])
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    client.diagnostics.pop(uri, None)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="kaizen.getStatus", arguments=[{"waitForLearning": True}]))
    shown = db(kaizen_home, "select fingerprint, times_shown from findings where times_shown > 0")
    assert shown == [(next(f["fingerprint"] for f in findings if f["path"] == "b.py"), 2)]
    assert db(kaizen_home, "select count(*) from runs") == [(8,)]  # 6 + one per open and save
    assert db(kaizen_home, "select occurrences from workflow_insights "
                           "where kind = 'issue_found'") == [(6,)]  # 4 + the two editor runs


def test_a_degradation_alert_says_whether_anything_can_route_away(tmp_path):
    """Twenty good calls, then twenty invalid answers: the monitor raises an alert. With one
    model configured it says it keeps using it; with a second model in a layer it routes
    away."""
    from kaizen.app.services import Services
    from kaizen.config import load_settings
    from kaizen.models.gateway import CallOutcome, ModelTarget

    def raised(options: dict[str, Any], name: str) -> str:
        settings, problems = load_settings(tmp_path, {
            "autofix": {"provider": "openai", "model": "gpt-4o-mini"},
            "databasePath": str(tmp_path / f"{name}.db"), **options}, env={})
        assert problems == []
        services = Services(settings)
        services.open_store()
        assert services.store is not None
        try:
            events = []
            for status in ["ok"] * 20 + ["invalid"] * 20:
                call = CallOutcome("issue_detector", ModelTarget("openai/gpt-4o-mini"), status)
                if (event := services._after_attempt(call, None)) is not None:
                    events.append(event)
        finally:
            services.store.close()
        [event] = events
        return event.text

    alone = raised({}, "alone")
    assert "is degraded on issue_detector" in alone
    assert "only model configured for issue_detector, so Kaizen keeps using it" in alone
    assert "routes to other models" not in alone
    paired = raised({"layers": {"fast": ["openai/gpt-4o-mini", "openai/gpt-4o"]}}, "paired")
    assert "Kaizen routes to other models until it recovers" in paired


async def test_a_run_made_stale_by_typing_is_not_a_showing(start_client, scripted, kaizen_home,
                                                          project):
    """The first run is still waiting for the model when the user types: its result is never
    published, so it counts no showing; the run of the saved text counts one."""
    issue = {"line": 2, "severity": "warning", "category": "bug", "message": MESSAGE}
    scripted.enqueue("issue_detector", {"_delay": 1.5, "_then": {"issues": [issue]}})
    scripted.set_default("issue_detector", {"issues": [issue]})
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / "a.py", FILES["a.py"])
    await asyncio.to_thread(scripted.wait_for_requests, 1, 30)  # the run is at the model
    edited = FILES["a.py"] + "\n"
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=edited)]))

    async def stale() -> None:  # the first run ends, its result never published
        while db(kaizen_home, "select status from runs") != [("stale",)]:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(stale(), 30)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="kaizen.getStatus", arguments=[{"waitForLearning": True}]))
    runs = db(kaizen_home, "select document_version, status from runs order by id")
    assert runs == [(1, "stale"), (2, "succeeded")]
    assert db(kaizen_home, "select times_shown from findings") == [(1,)]

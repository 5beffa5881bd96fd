"""Prometheus metrics and the Grafana dashboard, parsed by prometheus_client's own parser.

The record is real (a SQLite file with recorded calls, feedback and findings); ``/metrics``
is scraped from a real ``kaizen serve-http`` subprocess and from a real ``kaizen serve
--metrics-port 0`` language server; the dashboard's every query must name metrics that the
real exporter exports.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from prometheus_client.parser import text_string_to_metric_families
from pytest_lsp import ClientServerConfig, client_capabilities

from kaizen.config import Settings
from kaizen.core.findings import Finding
from kaizen.improvement import performance, telemetry
from kaizen.improvement.alerts import AlertMonitor
from kaizen.improvement.forecast import prediction_error
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, ModelTarget
from tests.conftest import ROOT, server_env

DASHBOARD = ROOT / "docs" / "grafana" / "kaizen-dashboard.json"
TOKEN = "metrics-token-0123456789abcdef"


def outcome(model: str, task: str, status: str, ms: float, usd: float = 0.001) -> CallOutcome:
    return CallOutcome(
        task=task,
        target=ModelTarget(model),
        status=status,
        prompt_tokens=100,
        completion_tokens=20,
        cost_usd=usd,
        latency_ms=ms,
    )


def fill(store: Store) -> None:
    """Three calls of one model (ok, ok, invalid), one of another, feedback and a finding."""
    calls = [
        outcome("openai/a", "issue_detector", "ok", 300),
        outcome("openai/a", "issue_detector", "ok", 1500),
        outcome("openai/a", "issue_detector", "invalid", 700),
        outcome("openai/b", "improvement_generator", "error", 40_000, usd=0.0),
    ]
    for call in calls:
        store.record_call(None, call)
        performance.record_outcome(store, call)
    performance.record_feedback(store, "openai/a", "issue_detector", "accepted")
    performance.record_feedback(store, "openai/a", "issue_detector", "rejected")
    performance.record_feedback(store, "openai/a", "issue_detector", "fixed_by_hand")
    run = store.start_run("autofix", "file:///x.py", "repo", "python", 1)
    finding = Finding("autofix", "bug", "warning", 1, 1, "m", fingerprint="fp1", model="openai/a")
    store.save_findings(run, "repo", "file:///x.py", "python", [finding])
    store.save_findings(run, "repo", "file:///x.py", "python", [finding])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "kaizen.db")
    fill(opened)
    yield opened
    opened.close()


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(fams: dict[str, Any], name: str, **labels: str) -> float:
    """The value of the one sample of ``name`` whose labels include ``labels``."""
    found = [
        s.value
        for f in fams.values()
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def exported_names(fams: dict[str, Any]) -> set[str]:
    """Every series name a query may use, by family type (a family may have no samples)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    out = set()
    for fam in fams.values():
        out.add(fam.name)
        out.update(fam.name + s for s in suffixes.get(fam.type, ()))
    return out


def test_record_collector_reads_the_shared_record(store: Store) -> None:
    check_record(store)


def test_one_exporter_serves_a_team_database(pg_url: str) -> None:
    """The same collector over PostgreSQL (the grouped queries and CASE sums port)."""
    team = Store.open(pg_url)
    try:
        fill(team)
        check_record(team)
        # the alert window and the prediction error read the same record the same way
        alerts = Settings.model_validate({"alerts": {"window": 2, "minBaseline": 1}}).alerts
        event = AlertMonitor().observe(team, alerts, "openai/a", "issue_detector")
        assert event is not None and event.kind == "raised"  # newest: invalid (700), ok (1500)
        assert [s.split()[0] for s in event.signals] == ["success", "invalid", "latency"]
        assert prediction_error(team) == []  # nothing was predicted in fill()
    finally:
        team.close()


def check_record(store: Store) -> None:
    telemetry.count_cache_hit("autofix", 2)
    telemetry.observe_attempt(outcome("openai/a", "issue_detector", "ok", 250))
    settings = Settings.model_validate(
        {"budget": {"dailyUsd": 1.0}, "alerts": {"window": 2, "minBaseline": 1}}
    )
    fams = families(telemetry.exposition(telemetry.registry(store, settings)).decode())

    a = {"model": "openai/a", "task_type": "issue_detector", "pipeline": "autofix"}
    assert sample(fams, "kaizen_model_calls_total", **a, outcome="ok") == 2
    assert sample(fams, "kaizen_model_calls_total", **a, outcome="invalid") == 1
    assert sample(fams, "kaizen_invalid_answers_total", **a) == 1
    assert sample(fams, "kaizen_model_tokens_total", **a, kind="prompt") == 300
    assert sample(fams, "kaizen_model_cost_usd_total", **a) == pytest.approx(0.003)
    # the latency histogram from the record: 300 ms and 700 ms under 1 s, 1.5 s under 2 s
    assert sample(fams, "kaizen_model_call_latency_seconds_bucket", **a, le="1.0") == 2
    assert sample(fams, "kaizen_model_call_latency_seconds_bucket", **a, le="2.0") == 3
    assert sample(fams, "kaizen_model_call_latency_seconds_count", **a) == 3
    b = {"model": "openai/b", "task_type": "improvement_generator", "pipeline": "refactor"}
    assert sample(fams, "kaizen_model_call_latency_seconds_bucket", **b, le="30.0") == 0
    assert sample(fams, "kaizen_model_call_latency_seconds_bucket", **b, le="+Inf") == 1
    # accepted and fixed by hand both count as accepted
    assert sample(fams, "kaizen_finding_outcomes_total", **a, outcome="accepted") == 2
    assert sample(fams, "kaizen_finding_outcomes_total", **a, outcome="dismissed") == 1
    assert sample(fams, "kaizen_findings_shown_total", pipeline="autofix", origin="model") == 2
    assert sample(fams, "kaizen_budget_left_usd") == pytest.approx(1.0 - 0.003)
    assert sample(fams, "kaizen_record_up") == 1
    # the newest two calls of openai/a (invalid, ok) against the one before (ok)
    for signal in ("success", "invalid", "latency"):
        assert sample(fams, "kaizen_model_degraded", **a, signal=signal) == 1
    assert not [s for s in fams["kaizen_model_degraded"].samples if s.labels["signal"] == "spend"]
    # this process's own observations ride along
    assert sample(fams, "kaizen_process_cache_hits_total", pipeline="autofix") >= 2
    assert sample(fams, "kaizen_process_model_call_latency_seconds_count", **a, outcome="ok") >= 1


def test_a_broken_database_scrapes_as_record_down(tmp_path: Path) -> None:
    broken = Store.open(tmp_path / "gone.db")
    broken.close()
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # not a database any more: reads fail
    fams = families(telemetry.exposition(telemetry.registry(broken)).decode())
    assert sample(fams, "kaizen_record_up") == 0


def scrape(url: str, token: str | None = None) -> str:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def dashboard_metric_names() -> dict[str, set[str]]:
    """Panel title -> the metric names its queries use (every Kaizen metric is kaizen_*)."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = {}
    for panel in board["panels"]:
        exprs = [t["expr"] for t in panel["targets"]]
        out[panel["title"]] = {n for e in exprs for n in re.findall(r"\bkaizen_[A-Za-z0-9_:]*", e)}
    return out


def test_serve_http_metrics_and_the_dashboard(store: Store, tmp_path: Path) -> None:
    """A real serve-http over the filled record: /metrics needs the token, parses, and
    exports every metric the dashboard's panels query."""
    env = server_env(
        tmp_path, KAIZEN_DATABASE=str(tmp_path / "kaizen.db"), KAIZEN_BUDGET_DAILY_USD="2"
    )
    cmd = [sys.executable, "-m", "kaizen", "serve-http", "--port", "0", "--token", TOKEN]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "kaizen: HTTP API at http://127.0.0.1:PORT (...)"
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(match.group(1) + "/metrics")
        assert refused.value.code == 401
        fams = families(scrape(match.group(1) + "/metrics", TOKEN))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert sample(fams, "kaizen_model_calls_total", model="openai/a", outcome="ok") == 2
    exported = exported_names(fams)
    panels = dashboard_metric_names()
    assert len(panels) >= 8
    for title, names in panels.items():
        assert names, f"panel {title!r} queries no Kaizen metric"
        assert names <= exported, f"panel {title!r} queries {names - exported}, not exported"


async def test_editor_server_metrics_port(tmp_path: Path, project: Path) -> None:
    """``kaizen serve --metrics-port 0``: the exporter starts after initialize, on loopback,
    and serves the editor's record."""
    home = tmp_path / "home"
    home.mkdir()
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "kaizen", "serve", "--metrics-port", "0"],
        server_env=server_env(home),
    )
    client = await config.start()
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                root_uri=project.as_uri(),
                initialization_options={"localModel": False},
            )
        )

        async def metrics_url() -> str:
            while True:
                for message in client.log_messages:
                    if m := re.search(
                        r"metrics at (http://127\.0\.0\.1:\d+/metrics)", message.message
                    ):
                        return m.group(1)
                await client.wait_for_notification(types.WINDOW_LOG_MESSAGE)

        url = await asyncio.wait_for(metrics_url(), 20)
        text = await asyncio.to_thread(scrape, url)
        fams = families(text)
        assert sample(fams, "kaizen_record_up") == 1
        assert "kaizen_model_calls" in fams and "kaizen_process_model_call_latency_seconds" in fams
        await asyncio.wait_for(client.shutdown_session(), 10)
    finally:
        await client.stop()

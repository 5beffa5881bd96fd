"""Degradation alerts end to end: the real server, the scripted model server with an injected
burst of invalid answers, a real local webhook receiver; and the real router steering away
from a model with an open alert."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from kaizen.config import Settings
from kaizen.improvement.alerts import AlertMonitor, WindowStats, crossed
from kaizen.models.router import ModelRouter, RoutingRecord
from tests.conftest import StartClient, model_options, open_document
from tests.fixtures.scripted_model import ScriptedModel


class Webhook:
    """A local HTTP receiver: every POSTed JSON body, in order."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hook.arrived:
                    hook.posts.append(json.loads(body))
                    hook.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.posts) >= count, timeout):
                raise TimeoutError(f"{len(self.posts)} of {count} webhook posts arrived")
            return list(self.posts)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.httpd.shutdown()
    hook.httpd.server_close()


ALERTS = {
    "window": 4,
    "baseline": 6,
    "minBaseline": 4,
    "thresholds": {"successDrop": 0.5, "invalidRise": 0.5},
}


async def test_a_failure_burst_raises_and_then_clears_one_alert(
    start_client: StartClient,
    scripted: ScriptedModel,
    project: Path,
    kaizen_home: Path,
    webhook: Webhook,
) -> None:
    options = model_options(
        scripted,
        trigger={"onOpen": False, "onSave": False},
        alerts={**ALERTS, "webhookUrl": webhook.url},
        statusNotifications=True,
        review={"cache": False},  # every run asks the model (the same text each time)
    )
    client = await start_client(options)
    alerts: list[Any] = []
    client.feature("kaizen/alert")(lambda params: alerts.append(params))
    statuses: list[Any] = []
    client.feature("kaizen/status")(lambda params: statuses.append(params))
    uri = open_document(client, project / "m.py", "def f(x):\n    return x\n")

    async def run() -> None:
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="kaizen.runAutofix", arguments=[{"uri": uri}])
        )
        assert result["status"] in ("succeeded", "failed"), result

    for _ in range(6):  # the model's baseline: every answer valid
        await run()
    scripted.enqueue("issue_detector", *(["not json at all"] * 3))  # the burst
    for _ in range(3):
        await run()
    raised = [m for m in client.messages if "degraded" in m.message]
    assert len(raised) == 1, [m.message for m in client.messages]  # once, not per call
    assert "openai/scripted-model" in raised[0].message and "issue_detector" in raised[0].message
    for _ in range(3):  # recovered: three valid answers push the burst out of the window
        await run()
    cleared = [m for m in client.messages if "recovered" in m.message]
    assert len(cleared) == 1 and len([m for m in client.messages if "degraded" in m.message]) == 1, (len(scripted.requests_for("issue_detector")), [m.message for m in client.messages])
    assert [a.kind for a in alerts] == ["raised", "cleared"]
    assert alerts[0].taskType == "issue_detector"

    posts = webhook.wait_for(2)
    assert [p["kaizen"]["kind"] for p in posts] == ["raised", "cleared"]
    assert "degraded" in posts[0]["text"] and "recovered" in posts[1]["text"]
    assert len(scripted.requests_for("issue_detector")) == 12
    # every finished run's idle status carries its predicted and actual cost (the badge's)
    idle = [s for s in statuses if s.phase == "idle"]
    assert len(idle) == 12 and all(hasattr(s, "predictedCostUsd") for s in idle)

    db = sqlite3.connect(kaizen_home / "kaizen.db")
    try:
        rows = db.execute(
            "select pattern, occurrences from bug_patterns where category = 'model-degradation'"
        ).fetchall()
    finally:
        db.close()
    assert rows == [("issue_detector on openai/scripted-model: success, invalid", 1)]


def test_the_router_steers_away_from_a_model_with_an_open_alert() -> None:
    settings = Settings.model_validate(
        {
            "autofix": {"provider": "openai", "model": "a"},
            "layers": {"balanced": ["openai/b"]},
            "localModel": False,
        }
    )
    avoid: dict[str, set[str]] = {}
    router = ModelRouter(settings, read_record=lambda _spend: RoutingRecord(avoid=avoid))
    assert [t.model for t in router.choose("issue_detector").targets] == ["openai/a", "openai/b"]
    avoid["issue_detector"] = {"openai/a"}
    router.refresh()
    choice = router.choose("issue_detector")
    assert [t.model for t in choice.targets] == ["openai/b", "openai/a"]  # last resort only
    assert "steering away from openai/a" in choice.reason
    # another task is not affected
    assert router.choose("fix_generator").targets[0].model == "openai/a"


def test_thresholds_compare_a_window_with_its_own_baseline() -> None:
    thresholds = Settings().alerts.thresholds
    fast_ok = WindowStats.of([("ok", 200.0, 0.001)] * 20)
    assert crossed(fast_ok, fast_ok, thresholds) == []
    slow = WindowStats.of([("ok", 2000.0, 0.001)] * 20)
    assert [s.split()[0] for s in crossed(slow, fast_ok, thresholds)] == ["latency"]
    dear = WindowStats.of([("ok", 200.0, 0.004)] * 20)
    assert [s.split()[0] for s in crossed(dear, fast_ok, thresholds)] == ["spend"]
    # a fast model getting a little slower is noise, not an incident (the floor)
    quick = WindowStats.of([("ok", 20.0, 0.0)] * 20)
    assert crossed(WindowStats.of([("ok", 60.0, 0.0)] * 20), quick, thresholds) == []
    assert AlertMonitor().avoided() == {}

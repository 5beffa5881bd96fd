"""``kaizen serve-http`` over real HTTP on 127.0.0.1: every tool, bad input refused with a
clear 4xx and nothing written, size limits, the bearer token, and the API checked against
its own OpenAPI document (openapi-spec-validator, then schemathesis)."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import inspect, text

from kaizen.config import Settings
from kaizen.http import StartError, make_server, openapi_document
from kaizen.memory.store import Store
from kaizen.tools import operations as records
from kaizen.tools.table import TOOLS, Context

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token-for-tests-0123456789"


@dataclass
class Api:
    port: int
    ctx: Context
    token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = "default",
    ) -> tuple[int, Any, http.client.HTTPResponse]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if raw is None and body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            sent.setdefault("Content-Type", "application/json")
        token = self.token if token == "default" else token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=raw, headers=sent)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        return response.status, json.loads(data) if data else None, response

    def post(self, tool: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, data, _ = self.request("POST", f"/tools/{tool}", body if body is not None else {}, **kw)
        return status, data

    def get(self, tool: str, **query: Any) -> tuple[int, Any]:
        path = f"/tools/{tool}" + (f"?{urlencode(query)}" if query else "")
        status, data, _ = self.request("GET", path)
        return status, data


@contextlib.contextmanager
def serving(tmp_path: Path, host: str = "127.0.0.1", token: str | None = None) -> Iterator[Api]:
    ctx = Context(Store.open(tmp_path / "kaizen.db"), Settings())
    server = make_server(ctx, host=host, port=0, token=token)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Api(server.server_address[1], ctx, token)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        ctx.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with serving(tmp_path) as api:
        yield api


def table_counts(store: Store) -> dict[str, int]:
    """Rows in every table: what "nothing was written" means."""
    with store.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}


def test_every_tool_over_http(api: Api):
    status, body = api.post("record_metric", {"name": "bench.lint", "value": 12.5, "unit": "ms"})
    assert status == 200 and body["metric"]["name"] == "bench.lint"

    status, body = api.post(
        "update_model_performance",
        {"model": "openai/gpt-4o-mini", "taskType": "issue_detector", "calls": 4, "invalid": 1},
    )
    assert status == 200 and body["modelPerformance"]["calls"] == 4

    status, body = api.post("update_routing_heuristic", {"pattern": "tests/", "preferredLayer": "fast"})
    assert status == 200
    rule = body["heuristic"]
    status, body = api.post("update_routing_heuristic", {"id": rule["id"], "active": False})
    assert status == 200 and body["heuristic"]["active"] is False

    bug = {"category": "model-http-500", "pattern": "upstream exploded", "metadata": {"task": "issue_detector"}}
    api.post("record_bug_pattern", bug)
    status, body = api.post("record_bug_pattern", bug)
    assert status == 200 and body["bugPattern"]["occurrences"] == 2
    bug_id = body["bugPattern"]["id"]

    status, body = api.post("generate_regression_test", {"bugPatternId": bug_id})
    assert status == 200 and len(body["regressionTests"]) == 1

    store = api.ctx.store
    # reads: the same answer by GET and by POST, and the same as the operations themselves
    assert api.get("get_regression_tests", category="model-http-500") == (
        200,
        records.get_regression_tests(store, {"category": "model-http-500"}),
    )
    assert api.post("get_regression_tests", {"includeCode": False})[1]["regressionTests"][0].get("testCode") is None
    assert api.get("get_bug_patterns", limit=5) == (200, records.get_bug_patterns(store, {"limit": 5}))
    assert api.get("get_routing_heuristics", activeOnly="true") == (200, {"heuristics": []})
    assert api.post("get_routing_heuristics") == (200, records.get_routing_heuristics(store, {}))
    status, report = api.get("analyze_metrics", includeReport="true")
    assert status == 200 and "Routing heuristics: 1" in report.pop("report")
    assert report == records.analyze_metrics(store, {})
    assert report["rankings"]["issue_detector"][0]["model"] == "openai/gpt-4o-mini"
    status, body = api.get("search_learnings", query="mutable default argument", limit=3)
    assert status == 200 and body == {"learnings": []}

    status, listing, _ = api.request("GET", "/tools")
    assert status == 200 and {t["name"] for t in listing["tools"]} == set(TOOLS)
    assert api.request("GET", "/healthz")[:2] == (200, {"status": "ok", "version": "0.1.0"})


NOT_JSON = b'{"name": "x", "value": '


@pytest.mark.parametrize(
    ("method", "path", "raw", "headers", "status", "message"),
    [
        ("POST", "/tools/record_metric", b'{"name": "x"}', {}, 400, "value: Field required"),
        ("POST", "/tools/record_metric", b'{"name": "x", "value": "fast"}', {}, 400, "value: Input should be a valid number"),
        ("POST", "/tools/record_metric", b'{"name": "x", "value": 1, "unti": "ms"}', {}, 400, "unti: Extra inputs are not permitted"),
        ("POST", "/tools/record_metric", NOT_JSON, {}, 400, "bad JSON"),
        ("POST", "/tools/record_metric", b'[{"name": "x", "value": 1}]', {}, 400, "must be a JSON object"),
        ("POST", "/tools/record_metric", b'{"name": "x", "value": NaN}', {}, 400, "NaN is not JSON"),
        ("POST", "/tools/record_metric", b'{"name": "x", "value": 1e999}', {}, 400, "value: number must be finite"),
        ("POST", "/tools/record_metric", b'{"name": "x\\u0000", "value": 1}', {}, 400, "NUL"),
        ("POST", "/tools/record_metric", b'{"name": "\\ud800", "value": 1}', {}, 400, "not valid Unicode"),
        ("POST", "/tools/record_metric", b"\xff\xfe", {}, 400, "not UTF-8"),
        ("POST", "/tools/record_metric", b"[" * 100_000, {}, 400, "bad JSON"),
        ("POST", "/tools/record_metric", b'{"name": "x", "value": 1}', {"Content-Type": "text/plain"}, 415, "application/json"),
        ("POST", "/tools/record_metric?name=x&value=1", b"", {}, 400, "JSON body"),
        ("POST", "/tools/record_bug_pattern", b'{"category": "", "pattern": "p"}', {}, 400, "category: String should have at least 1 character"),
        ("POST", "/tools/record_bug_pattern", b'{"category": "c", "pattern": "p", "severity": "dire"}', {}, 400, "severity: Input should be 'low', 'medium', 'high' or 'critical'"),
        ("POST", "/tools/update_routing_heuristic", b'{"pattern": "(", "preferredLayer": "fast"}', {}, 400, "update_routing_heuristic:"),
        ("POST", "/tools/update_routing_heuristic", b'{"id": 99999999999999999999, "active": true}', {}, 400, "id: integer out of the 64-bit range"),
        ("POST", "/tools/update_routing_heuristic", b'{"id": "1", "active": true}', {}, 400, "id: Input should be a valid integer"),
        ("POST", "/tools/update_routing_heuristic", b'{"pattern": "x", "preferred_layer": "fast"}', {}, 400, "preferred_layer: Extra inputs are not permitted"),
        ("POST", "/tools/update_model_performance", b'{"model": "m", "taskType": "t", "calls": 1, "successes": 5}', {}, 400, "successes must be between 0 and calls"),
        ("POST", "/tools/generate_regression_test", b'{"bugPatternId": 42}', {}, 400, "no bug pattern with id 42"),
        ("POST", "/tools/generate_regression_test", b"{}", {}, 400, "give bugPatternId, or all: true"),
        ("POST", "/tools/search_learnings", b'{"query": ""}', {}, 400, "query: String should have at least 1 character"),
        ("POST", "/tools/no_such_tool", b"{}", {}, 404, "no such path"),
        ("POST", "/nowhere", b"{}", {}, 404, "no such path"),
        ("GET", "/tools/record_metric?name=x&value=1", None, {}, 405, "takes POST"),
        ("PUT", "/tools/record_metric", b'{"name": "x", "value": 1}', {}, 405, "takes POST"),
        ("DELETE", "/tools/get_bug_patterns", None, {}, 405, "takes GET or POST"),
        ("GET", "/tools/get_bug_patterns?limit=many", None, {}, 400, "limit: Input should be a valid integer"),
        ("GET", "/tools/get_bug_patterns?limit=1&limit=2", None, {}, 400, "give each argument once: limit"),
        ("GET", "/tools/get_bug_patterns?order=random", None, {}, 400, "order: Input should be 'recent' or 'occurrences'"),
        ("GET", "/tools/search_learnings?limit=3", None, {}, 400, "query: Field required"),
        ("GET", "/tools/analyze_metrics?taskTyp=x", None, {}, 400, "taskTyp: Extra inputs are not permitted"),
        ("GET", "/tools/get_bug_patterns", None, {"Host": "attacker.example:8766"}, 421, "loopback names only"),
    ],
)
def test_bad_input_is_refused_clearly_and_writes_nothing(
    api: Api, method: str, path: str, raw: bytes | None, headers: dict[str, str], status: int, message: str
):
    api.post("record_metric", {"name": "before", "value": 1})  # something to compare with
    before = table_counts(api.ctx.store)
    got, body, response = api.request(method, path, raw=raw, headers=headers)
    assert got == status, body
    assert response.getheader("Content-Type") == "application/json"
    assert message in body["error"], body
    if status == 405:
        assert response.getheader("Allow") in ("POST", "GET, POST")
    assert table_counts(api.ctx.store) == before
    assert api.request("GET", "/healthz")[0] == 200  # and the server is still fine


def test_a_huge_body_is_413_and_never_read(api: Api):
    before = table_counts(api.ctx.store)
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    conn.putrequest("POST", "/tools/record_bug_pattern")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(64 << 20))
    conn.endheaders()
    with contextlib.suppress(OSError):  # the server may close before we stop sending
        conn.send(b'{"category": "c", "pattern": "' + b"x" * 65536)
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 413
    assert "limit is 1048576" in body["error"]
    assert table_counts(api.ctx.store) == before

    # a client that asks first (Expect: 100-continue, as curl does) is told before it sends
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    conn.putrequest("POST", "/tools/record_bug_pattern")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(2 << 20))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and "limit is" in json.loads(response.read())["error"]
    conn.close()

    # just over the limit, sent whole, is refused too; just under it is judged on its content
    big = json.dumps({"category": "c", "pattern": "p", "description": "d" * (1 << 20)}).encode()
    with contextlib.suppress(ConnectionError):
        assert api.request("POST", "/tools/record_bug_pattern", raw=big)[0] == 413
    fits = json.dumps({"name": "x", "value": 1, "context": {"pad": "x" * 1_000_000}}).encode()
    assert len(fits) < 1 << 20
    assert api.request("POST", "/tools/record_metric", raw=fits)[0] == 200


def test_chunked_bodies_need_a_length(api: Api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    conn.request(
        "POST",
        "/tools/record_metric",
        body=iter([b'{"name": "x", "value": 1}']),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    response = conn.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())["error"]
    conn.close()


def test_anything_but_loopback_needs_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("KAIZEN_HTTP_TOKEN", raising=False)
    ctx = Context(Store.open(tmp_path / "kaizen.db"), Settings())
    try:
        for host in ("0.0.0.0", "::", "192.0.2.10", "example.com"):
            with pytest.raises(StartError, match="without a bearer token"):
                make_server(ctx, host=host)
        with pytest.raises(StartError, match="at least 16 characters"):
            make_server(ctx, host="0.0.0.0", token="short")
    finally:
        ctx.close()

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "KAIZEN_HTTP_TOKEN"}
    env.update(KAIZEN_HOME=str(home), PYTHONPATH=str(ROOT / "server"))
    refused = subprocess.run(
        [sys.executable, "-m", "kaizen", "serve-http", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a bearer token" in refused.stderr
    assert list(home.iterdir()) == []  # not even the database was created


def test_the_bearer_token(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    with serving(tmp_path, host="0.0.0.0", token=TOKEN) as api:
        before = table_counts(api.ctx.store)
        for token in (None, "wrong-token-0123456789", TOKEN + "x", TOKEN[:-1]):
            status, body, response = api.request(
                "POST", "/tools/record_metric", {"name": "x", "value": 1}, token=token
            )
            assert status == 401 and body == {"error": "missing or wrong bearer token"}
            assert response.getheader("WWW-Authenticate", "").startswith("Bearer")
        status, _, _ = api.request(
            "POST", "/tools/record_metric", {"name": "x", "value": 1}, headers={"Authorization": f"Basic {TOKEN}"}, token=None
        )
        assert status == 401
        assert api.request("GET", "/tools", token=None)[0] == 401
        assert api.get("get_bug_patterns")[0] == 200
        assert table_counts(api.ctx.store) == before
        assert api.post("record_metric", {"name": "x", "value": 1})[0] == 200
        # what needs no token: liveness and the description of the API
        assert api.request("GET", "/healthz", token=None)[0] == 200
        status, doc, _ = api.request("GET", "/openapi.json", token=None)
        assert status == 200 and doc["security"] == [{"bearerAuth": []}]
        # a non-loopback server does not check Host (a proxy may front it)
        assert api.request("GET", "/healthz", headers={"Host": "kaizen.internal"})[0] == 200
    assert caplog.records, "the server logged nothing at DEBUG"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_openapi_document_is_valid_and_matches_the_registry(api: Api):
    from openapi_spec_validator import validate

    status, doc, _ = api.request("GET", "/openapi.json")
    assert status == 200
    validate(doc)
    validate(openapi_document(secured=True))
    assert doc["openapi"].startswith("3.1")
    for name, tool in TOOLS.items():
        ops = doc["paths"][f"/tools/{name}"]
        assert doc["components"]["schemas"][name] == tool.schema
        assert set(ops) == ({"get", "post"} if tool.read_only else {"post"})
        if tool.read_only:
            assert {p["name"] for p in ops["get"]["parameters"]} == set(tool.schema["properties"])


def test_serve_http_command(tmp_path: Path):
    """The real command: prints where it listens, answers, stops on SIGTERM."""
    home = tmp_path / "home"
    env = {**os.environ, "KAIZEN_HOME": str(home), "PYTHONPATH": str(ROOT / "server")}
    env.pop("KAIZEN_HTTP_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kaizen", "serve-http", "--port", "0"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        port = int(match.group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            "/tools/record_metric",
            body=json.dumps({"name": "cli", "value": 2}),
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        assert response.status == 200, response.read()
        assert json.loads(response.read())["metric"]["value"] == 2.0
        conn.close()
        assert (home / "kaizen.db").exists()
    finally:
        proc.terminate()
        proc.wait(10)


SCHEMATHESIS_CONFIG = """
[generation]
allow-x00 = false          # NUL is refused on purpose (PostgreSQL cannot store it)
database = "none"

[auth.openapi.bearerAuth]
bearer = "${KAIZEN_HTTP_TOKEN}"

# Calls that fit the schema but are refused for what it cannot say: an id that does not
# exist, a pattern that is not a regular expression, more successes than calls, a finding
# that was never recorded or dismissed, an experiment started without both strategies or while another
# one runs.
[[operations]]
include-operation-id = [
    "dismiss_finding_post",
    "undismiss_finding_post",
    "generate_regression_test_post",
    "update_routing_heuristic_post",
    "update_model_performance_post",
    "routing_experiment_post",
    "rules_accept_post",
    "rules_reject_post",
]
checks.positive_data_acceptance.enabled = false
"""


def test_schemathesis_against_the_openapi_document(tmp_path: Path):
    pytest.importorskip("schemathesis")
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    if st is None:
        pytest.skip("schemathesis' st command is not installed")
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    with serving(tmp_path, token=TOKEN) as api:
        result = subprocess.run(
            [
                st,
                "--config-file",
                str(config),
                "run",
                f"http://127.0.0.1:{api.port}/openapi.json",
                "--phases",
                "coverage,fuzzing",
                "--max-examples",
                "15",
                "--seed",
                "20261122",
                "--no-color",
            ],
            env={**os.environ, "KAIZEN_HTTP_TOKEN": TOKEN},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"Tested:\s+30\b", result.stdout), result.stdout[-3000:]

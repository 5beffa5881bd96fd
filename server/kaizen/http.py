"""``kaizen serve-http``: the tools of ``tools.table`` as a small HTTP JSON API, for CI
scripts and anything that speaks HTTP but not MCP.

``POST /tools/<name>`` takes the arguments as a JSON object; read-only tools also answer
``GET /tools/<name>?arg=value``. ``GET /openapi.json`` describes it all (generated from the
same table, so it cannot drift), ``GET /tools`` lists the tools, ``GET /healthz`` says
the server is up and ``GET /metrics`` is the Prometheus exposition of the record
(``improvement.telemetry``; the same bearer token as the tools). The standard library is
enough for this: one thread per connection, synchronous operations, no framework.

Safety, because this face can listen on a network: a bearer token is required to start on
anything but loopback (``--token`` or ``KAIZEN_HTTP_TOKEN``; compared in constant time,
never logged); bodies over ``max_body`` are refused unread (413); on loopback the Host
header must be a loopback name (DNS rebinding) and a body must be ``application/json``
(a browser cannot send that cross-site without a preflight this server never grants).
Bad input gets a 4xx with ``{"error": "..."}`` and writes nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import __version__
from .improvement import telemetry
from .tools.openapi import openapi_document, tool_listing
from .tools.operations import Mode
from .tools.table import TOOLS, Context, ToolError

log = logging.getLogger(__name__)

TOKEN_ENV = "KAIZEN_HTTP_TOKEN"
MIN_TOKEN_LENGTH = 16
MAX_BODY = 1 << 20
READ_TIMEOUT_S = 30.0
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class StartError(ValueError):
    """The server must not start as asked (no token for a network address, ...)."""


class Exposition:
    """A reply that is Prometheus text, not JSON."""

    def __init__(self, body: bytes) -> None:
        self.body = body


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def resolve_token(host: str, token: str | None) -> str | None:
    """The token to require (``None``: none), or ``StartError`` if the bind is unsafe."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback(host):
        raise StartError(
            f"refusing to listen on {host} without a bearer token: "
            f"set {TOKEN_ENV} (or pass --token), or bind to 127.0.0.1"
        )
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise StartError(f"the bearer token must be at least {MIN_TOKEN_LENGTH} characters")
    return token


def allowed_methods(path: str) -> tuple[str, ...] | None:
    """The methods ``path`` answers; ``None``: no such path."""
    if path in ("/healthz", "/openapi.json", "/tools", "/metrics"):
        return ("GET",)
    tool = TOOLS.get(path.removeprefix("/tools/")) if path.startswith("/tools/") else None
    if tool is None:
        return None
    return ("GET", "POST") if tool.read_only else ("POST",)


# the OpenAPI document ----------------------------------------------------------------------

# the server --------------------------------------------------------------------------------


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        ctx: Context,
        token: str | None,
        max_body: int = MAX_BODY,
    ) -> None:
        host = address[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.ctx = ctx
        self.token = token
        self.max_body = max_body
        self.loopback = is_loopback(host)
        self.openapi = openapi_document(secured=token is not None)
        self.metrics = telemetry.registry(ctx.store, ctx.settings)
        if ctx.store is not None:  # the review rules by source (rules.metrics)
            from .rules.metrics import RulesCollector

            self.metrics.register(RulesCollector(ctx.store, getattr(ctx, "root", None)))
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(
    ctx: Context,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    max_body: int = MAX_BODY,
) -> ApiServer:
    """A bound server (not yet serving); ``StartError`` if the token policy forbids it."""
    return ApiServer((host, port), ctx, resolve_token(host, token), max_body)


class Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    server_version = f"kaizen/{__version__}"
    sys_version = ""
    timeout = READ_TIMEOUT_S
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

    # plumbing ------------------------------------------------------------------------

    def version_string(self) -> str:
        return self.server_version  # no Python version on the wire

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own errors (bad request line, headers too long) as JSON too; an
        unknown method gets the same 405 (or 404) as a known one we do not serve."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            self._handle()
            return
        self.close_connection = True
        self._reply(code, {"error": message or HTTPStatus(code).phrase})

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl sends it for large bodies): refuse an oversized
        body before the client sends it."""
        length = self.headers.get("Content-Length") or ""
        if length.isdigit() and int(length) > self.server.max_body:
            self.close_connection = True
            self._reply(
                413,
                {"error": f"request body of {length} bytes; the limit is {self.server.max_body}"},
            )
            return False
        return super().handle_expect_100()

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(payload, Exposition):
            body, ctype = payload.body, telemetry.CONTENT_TYPE
        else:
            body, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        try:
            status, payload = self._route()
            self._reply(status, payload)
        except HttpError as exc:
            self._reply(exc.status, {"error": exc.message}, exc.headers)
        except Exception:
            log.exception("request %s %s failed", self.command, urlsplit(self.path).path)
            self.close_connection = True
            self._reply(500, {"error": "internal error; see the server's log"})

    do_GET = do_POST = _handle

    # routing -------------------------------------------------------------------------

    def _route(self) -> tuple[int, Any]:
        self._check_host()
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        allowed = allowed_methods(path)
        if allowed is None:
            self.close_connection = True  # a body we will not read may follow
            raise HttpError(404, f"no such path {url.path!r}; see /openapi.json")
        if self.command not in allowed:
            self.close_connection = True
            raise HttpError(
                405, f"{url.path} takes {' or '.join(allowed)}", {"Allow": ", ".join(allowed)}
            )
        if path == "/healthz":
            return 200, {"status": "ok", "version": __version__}
        if path == "/openapi.json":
            return 200, self.server.openapi
        self._authorize()
        if path == "/metrics":
            return 200, Exposition(telemetry.exposition(self.server.metrics))
        if path == "/tools":
            return 200, tool_listing()
        tool = TOOLS[path.removeprefix("/tools/")]
        mode: Mode
        if self.command == "GET":
            arguments, mode = self._query(url.query), "query"
        else:
            if url.query:
                raise HttpError(400, "POST takes its arguments as a JSON body, not a query")
            arguments, mode = self._body(), "strict"
        try:
            return 200, tool.call(self.server.ctx, arguments, mode=mode)
        except ToolError as exc:
            raise HttpError(400, f"{tool.name}: {exc}") from None

    def _check_host(self) -> None:
        """On loopback, a page in a browser must not reach us through DNS rebinding."""
        host = self.headers.get("Host")
        if not self.server.loopback or host is None:
            return
        name = urlsplit(f"//{host}").hostname or ""
        if name.lower() not in LOOPBACK_NAMES:
            self.close_connection = True
            raise HttpError(421, f"this server answers to loopback names only, not {host!r}")

    def _authorize(self) -> None:
        token = self.server.token
        if token is None:
            return
        scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            self.close_connection = True  # do not read a body for a stranger
            raise HttpError(
                401, "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="kaizen"'}
            )

    # arguments -----------------------------------------------------------------------

    @staticmethod
    def _query(query: str) -> dict[str, str]:
        try:
            pairs = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise HttpError(400, "malformed query string") from None
        repeated = sorted(k for k, v in pairs.items() if len(v) > 1)
        if repeated:
            raise HttpError(400, f"give each argument once: {', '.join(repeated)}")
        return {key: values[0] for key, values in pairs.items()}

    def _body(self) -> Any:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HttpError(411, "send the body with a Content-Length (no chunked encoding)")
        raw_length = self.headers.get("Content-Length") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise HttpError(400, f"bad Content-Length {raw_length!r}")
        if length > self.server.max_body:
            self.close_connection = True  # the body stays unread
            raise HttpError(
                413, f"request body of {length} bytes; the limit is {self.server.max_body}"
            )
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            raise HttpError(400, "the request body ended early")
        if not body.strip():
            return {}
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            raise HttpError(415, "send the arguments as application/json")
        return parse_json(body)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise HttpError(400, "the body is not UTF-8") from None
    except RecursionError:
        raise HttpError(400, "bad JSON: nested too deeply") from None
    except ValueError as exc:
        raise HttpError(400, f"bad JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HttpError(400, "the body must be a JSON object of arguments")
    return data


def run(
    host: str = "127.0.0.1",
    port: int = 8766,
    token: str | None = None,
    database: str | None = None,
    max_body: int = MAX_BODY,
) -> int:
    try:
        token = resolve_token(host, token)
    except StartError as exc:
        print(f"kaizen: {exc}", file=sys.stderr)
        return 2
    try:
        ctx = Context.open(database)
    except Exception as exc:
        print(f"kaizen: cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        server = ApiServer((host, port), ctx, token, max_body)
    except OSError as exc:
        ctx.close()
        print(f"kaizen: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    auth = "bearer token required" if token else "loopback, no token"
    print(
        f"kaizen: HTTP API at {server.url} ({auth}); see {server.url}/openapi.json", file=sys.stderr
    )
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        ctx.close()
    return 0

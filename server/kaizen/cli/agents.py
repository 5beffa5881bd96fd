"""``kaizen mcp`` and ``kaizen serve-http``: the faces for coding agents and scripts.

Only argument parsing lives here; the servers import their dependencies when they start, so
``kaizen serve`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_MCP_PORT = 8765
DEFAULT_HTTP_PORT = 8766


def add_agent_commands(sub: Any) -> None:
    mcp = sub.add_parser(
        "mcp", help="serve the self-improvement tools and learnings to agents over MCP"
    )
    mcp.add_argument(
        "--http",
        action="store_true",
        help="streamable HTTP on 127.0.0.1 instead of stdio (the URL is printed to stderr)",
    )
    mcp.add_argument(
        "--port", type=int, default=DEFAULT_MCP_PORT, help="port for --http (0: any free port)"
    )
    mcp.add_argument("--database", help="database path or URL (default: per-user file)")
    mcp.set_defaults(func=_mcp)

    http = sub.add_parser("serve-http", help="serve the same tools as a small HTTP JSON API")
    http.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (anything but loopback needs a token)",
    )
    http.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT, help="port (0: any free port)")
    http.add_argument(
        "--token",
        help="bearer token clients must send (default: $KAIZEN_HTTP_TOKEN); "
        "prefer the variable: a command line is visible to other users",
    )
    http.add_argument("--max-body", type=int, default=1 << 20, help="largest request body, bytes")
    http.add_argument("--database", help="database path or URL (default: per-user file)")
    http.set_defaults(func=_serve_http)


def _mcp(args: argparse.Namespace) -> int:
    from ..mcp import run

    return run(args.database, args.http, args.port)


def _serve_http(args: argparse.Namespace) -> int:
    from ..http import run

    return run(
        host=args.host,
        port=args.port,
        token=args.token,
        database=args.database,
        max_body=args.max_body,
    )

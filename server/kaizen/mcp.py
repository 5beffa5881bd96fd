"""``kaizen mcp``: the self-improvement tools and the learnings for coding agents, over the
Model Context Protocol (the official ``mcp`` SDK, its low-level server).

A thin face, like ``lsp/``: the tools, their JSON schemas and their validation all come from
``tools.registry``, so an agent calls exactly what the editor and the CLI call. A bad call
is a tool result with ``isError`` and a message the agent can act on (an unknown tool is a
protocol error, as the specification asks). Operations run on a worker thread: the
database is synchronous. Stdio by default; ``--http`` serves streamable HTTP on loopback
only (for a network-facing API with a token, see ``kaizen serve-http``).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INVALID_PARAMS

from . import __version__
from .tools.table import TOOLS, Context, ToolError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
INSTRUCTIONS = (
    "Kaizen reviews code with LLMs and keeps a self-improvement record. These tools read and "
    "write that record (model performance, routing rules, bug patterns, regression tests, "
    "metrics) and search what Kaizen has learned from earlier reviews."
)


def tool_list() -> list[types.Tool]:
    return [
        types.Tool(
            name=tool.name,
            description=tool.description,
            input_schema=tool.schema,
            annotations=types.ToolAnnotations(
                read_only_hint=tool.read_only,
                destructive_hint=tool.name == "update_routing_heuristic",
                open_world_hint=False,
            ),
        )
        for tool in TOOLS.values()
    ]


def build_server(ctx: Context) -> Server[Any]:
    """The MCP server over ``ctx`` (an open store and the settings)."""

    async def list_tools(
        _rctx: Any, _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tool_list())

    async def call_tool(_rctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            raise MCPError(INVALID_PARAMS, f"unknown tool {params.name!r}")
        try:
            result = await anyio.to_thread.run_sync(tool.call, ctx, params.arguments)
        except ToolError as exc:
            return _error(f"{tool.name}: {exc}")
        except Exception:
            log.exception("tool %s failed", tool.name)
            return _error(f"{tool.name} failed inside Kaizen; see the server's log")
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(result))],
            structured_content=result,
        )

    return Server(
        "kaizen",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        get_tool_input_schema=lambda name: TOOLS[name].schema if name in TOOLS else None,
    )


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


async def serve_stdio(ctx: Context) -> None:
    from mcp.server.stdio import stdio_server

    server = build_server(ctx)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(ctx: Context, port: int) -> None:
    """Streamable HTTP at ``http://127.0.0.1:<port>/mcp`` (the SDK turns on its DNS
    rebinding protection for loopback hosts). Port 0 picks a free port; the address is
    printed to stderr either way."""
    import uvicorn

    app = build_server(ctx).streamable_http_app(host=LOOPBACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    bound = sock.getsockname()[1]
    print(f"kaizen: MCP over streamable HTTP at http://{LOOPBACK}:{bound}/mcp", file=sys.stderr)
    sys.stderr.flush()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def run(database: str | None, http: bool, port: int) -> int:
    try:
        ctx = Context.open(database)
    except Exception as exc:
        print(f"kaizen: cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        if http:
            anyio.run(serve_http, ctx, port)
        else:
            anyio.run(serve_stdio, ctx)
    except OSError as exc:
        print(f"kaizen: cannot serve MCP: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.close()
    return 0

"""The operations behind every face: one implementation that the LSP commands, the CLI and
(later) the MCP server and the HTTP API all call. Plain functions over a Store, JSON in and
out; see ``records.OPERATIONS``."""

from .records import OPERATIONS, Operation, ToolError

__all__ = ["OPERATIONS", "Operation", "ToolError"]

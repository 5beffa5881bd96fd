"""The OpenAPI 3.1 document and the tool listing of the HTTP API, generated from the one tool
table (``tools.table.TOOLS``) so the description cannot drift from what the API accepts."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .table import TOOLS, Tool

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}


def _json_response(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A property schema without its ``null`` branch (a query string has no null)."""
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    schema = {k: v for k, v in prop.items() if k not in ("anyOf", "description")}
    if len(branches) == 1:
        schema.update(branches[0])
    if schema.get("default") is None:
        schema.pop("default", None)
    return schema


def _operation(tool: Tool, method: str, secured: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": _json_response("the result", "Result"),
        "400": _json_response("bad arguments (the message names them)", "Error"),
        "4XX": _json_response("refused (see the message)", "Error"),
    }
    if secured:
        responses["401"] = _json_response("missing or wrong bearer token", "Error")
    op: dict[str, Any] = {
        "operationId": f"{tool.name}_{method}",
        "summary": tool.name.replace("_", " "),
        "description": tool.description,
        "responses": responses,
    }
    schema = tool.schema
    if method == "post":
        responses["413"] = _json_response("the body is too large", "Error")
        op["requestBody"] = {
            "required": bool(schema.get("required")),
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{tool.name}"}}
            },
        }
    else:
        required = set(schema.get("required", []))
        op["parameters"] = [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": prop.get("description", ""),
                "schema": _query_schema(prop),
            }
            for name, prop in schema.get("properties", {}).items()
        ]
    return op


def openapi_document(secured: bool) -> dict[str, Any]:
    """OpenAPI 3.1 for this API, from the registry; ``secured``: a bearer token is required."""
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, "Result": {"type": "object"}}
    paths: dict[str, Any] = {}
    for tool in TOOLS.values():
        schemas[tool.name] = tool.schema
        ops = {"post": _operation(tool, "post", secured)}
        if tool.read_only:
            ops["get"] = _operation(tool, "get", secured)
        paths[f"/tools/{tool.name}"] = ops
    listing = {"200": _json_response("the tools", "Result")}
    if secured:
        listing["401"] = _json_response("missing or wrong bearer token", "Error")
    paths["/tools"] = {
        "get": {
            "operationId": "list_tools",
            "summary": "the tools, with their input schemas",
            "responses": listing,
        }
    }
    metrics = {
        "200": {
            "description": "Prometheus text exposition of the record",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
    if secured:
        metrics["401"] = _json_response("missing or wrong bearer token", "Error")
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics: the shared record and this process",
            "responses": metrics,
        }
    }
    public: dict[str, Any] = {"security": []} if secured else {}
    paths["/healthz"] = {
        "get": {
            "operationId": "healthz",
            "summary": "the server is up",
            "responses": {"200": _json_response("ok", "Result")},
            **public,
        }
    }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Kaizen",
            "version": __version__,
            "description": "Kaizen's self-improvement record and learnings, as JSON over "
            "HTTP. POST /tools/<name> with the arguments as a JSON object; read-only tools "
            "also take them as a query string.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if secured:
        doc["components"]["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearerAuth": []}]
    return doc


def tool_listing() -> dict[str, Any]:
    return {
        "tools": [
            {
                "name": t.name,
                "description": t.description,
                "readOnly": t.read_only,
                "inputSchema": t.schema,
            }
            for t in TOOLS.values()
        ]
    }

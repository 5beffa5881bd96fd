"""The operations behind every face: ``operations`` (plain functions over a Store, one input
model each) and ``table`` (the ONE tool table: MCP tool and HTTP route names, LSP command
names, flags), plus ``openapi`` (the HTTP API's description, generated from the table)."""

"""The editor face: LSP handlers stay thin and call the pipelines."""

from __future__ import annotations


def create_server():  # type: ignore[no-untyped-def]
    """A KaizenServer with every feature and command registered."""
    from .features import register
    from .server import KaizenServer

    server = KaizenServer()
    register(server)
    return server

"""The editor face: LSP handlers stay thin and call the pipelines."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the server module imports pygls: only on demand, below
    from .server import KaizenServer


def create_server() -> KaizenServer:
    """A KaizenServer with every feature and command registered."""
    from .features import register
    from .process import long_running
    from .server import KaizenServer

    long_running()

    server = KaizenServer()
    register(server)
    return server

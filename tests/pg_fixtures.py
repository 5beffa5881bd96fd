"""A real PostgreSQL with pgvector for the tests, started once per session by ``pgserver``.

``pgserver`` (a PyPI wheel) ships the PostgreSQL binaries and the pgvector extension, so no
system package or Docker is needed. The server listens on a Unix socket in a temporary
directory and is stopped (and its data deleted) when the session ends. Each test that asks
for ``pg_url`` gets a fresh database on that server, so tests never see each other's rows.

If pgserver is not installed or the server cannot start, every PostgreSQL test is skipped
with the reason, instead of failing the SQLite suite around it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

_counter = itertools.count(1)


class PgServer:
    """A started server: ``url(db)`` gives a SQLAlchemy URL, ``create_database()`` a new one."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        # postgresql://postgres:@/postgres?host=/tmp/... -> the socket directory
        self.uri: str = handle.get_uri()
        self.host = self.uri.split("host=", 1)[1].split("&", 1)[0]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.host}"

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(host=self.host, user="postgres", dbname="postgres", autocommit=True)

    def create_database(self, prefix: str = "kaizen_test") -> str:
        """A new empty database with pgvector installed; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        import psycopg

        with psycopg.connect(host=self.host, user="postgres", dbname=name, autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return self.url(name)


def start_pg_server() -> tuple[PgServer | None, str]:
    """(server, "") or (None, why it could not start)."""
    try:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set"
            warnings.simplefilter("ignore")
            import pgserver
        import psycopg  # noqa: F401
    except ImportError as exc:
        return None, f"pgserver/psycopg not installed ({exc}); pip install -e '.[dev,postgres]'"
    try:
        pgdata = tempfile.mkdtemp(prefix="kaizen-pg-")
        handle = pgserver.get_server(pgdata, cleanup_mode="delete")
        server = PgServer(handle)
        with server.admin() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except Exception as exc:  # the binaries may not run on this platform
        return None, f"pgserver could not start PostgreSQL: {type(exc).__name__}: {exc}"
    return server, ""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server, why = start_pg_server()
    if server is None:
        pytest.skip(why)
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.handle.cleanup()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database (with pgvector) for one test."""
    return pg_server.create_database()

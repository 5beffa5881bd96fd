"""Open the database: one SQLite file per user by default, safe for several processes.

The stdlib ``sqlite3`` of pyenv and macOS builds often cannot load extensions, so we fall
back to ``pysqlite3`` (a wheel with a modern SQLite) when ``enable_load_extension`` is
missing. Every connection gets WAL mode, a busy timeout and sqlite-vec; write transactions
start with ``BEGIN IMMEDIATE`` so two editor windows never dead-lock on a lock upgrade.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import text as sql_text
from sqlalchemy.pool import NullPool, QueuePool

from ..core.errors import KaizenError

BUSY_TIMEOUT_MS = int(os.environ.get("KAIZEN_DB_BUSY_TIMEOUT_MS", "10000"))
POOL_KEPT = 2  # SQLite connections a process keeps open between transactions


def sqlite_module() -> ModuleType:
    """The DB-API module to use: stdlib sqlite3 if it can load extensions, else pysqlite3."""
    probe = sqlite3.connect(":memory:")
    try:
        if hasattr(probe, "enable_load_extension"):
            return sqlite3
    finally:
        probe.close()
    try:
        from pysqlite3 import dbapi2
    except ImportError as exc:  # pragma: no cover - depends on the platform
        raise RuntimeError(
            "this Python's sqlite3 cannot load extensions; install pysqlite3-binary"
        ) from exc
    return dbapi2


def default_database_path() -> Path:
    """``$KAIZEN_HOME/kaizen.db``, else the XDG data directory."""
    if home := os.environ.get("KAIZEN_HOME"):
        return Path(home) / "kaizen.db"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kaizen" / "kaizen.db"


def database_url(path_or_url: str | Path | None) -> str:
    """Normalise a setting (path, ``sqlite:///`` or ``postgresql+psycopg://`` URL) to a URL."""
    if path_or_url is None or str(path_or_url) == "":
        path_or_url = default_database_path()
    text = str(path_or_url)
    for scheme in ("postgres://", "postgresql://"):  # plain URLs mean the psycopg 3 driver
        if text.startswith(scheme):
            return "postgresql+psycopg://" + text.removeprefix(scheme)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser()}"


def _load_sqlite_vec(dbapi_connection: Any) -> None:
    import sqlite_vec

    dbapi_connection.enable_load_extension(True)
    sqlite_vec.load(dbapi_connection)
    dbapi_connection.enable_load_extension(False)


def create_sqlite_engine(url: str) -> Engine:
    """An engine whose connections are WAL, busy-tolerant and have sqlite-vec loaded."""
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        folder = Path(path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KaizenError(
                f"cannot create the database folder {folder} ({exc.strerror or exc}); set "
                "KAIZEN_HOME, KAIZEN_DATABASE or --database to a writable place"
            ) from None
    # A file's connections are pooled: opening one (the file, sqlite-vec, four pragmas)
    # cost more than most of the short transactions the editor runs per save. A pooled
    # connection serves one thread at a time, hence check_same_thread=False. Each kept
    # connection holds two file descriptors and its own page cache (up to 2 MB), so a
    # long-running server keeps only ``POOL_KEPT``; a rarer burst beyond them opens
    # connections that close when returned (benchmarks/bench_soak.py counts the fds).
    pooled = bool(path) and path != ":memory:"
    engine = create_engine(
        url,
        module=sqlite_module(),
        poolclass=QueuePool if pooled else NullPool,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **({"pool_size": POOL_KEPT, "max_overflow": 16} if pooled else {}),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level; SQLAlchemy's "begin" event emits BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        _load_sqlite_vec(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front (no dead-locking lock upgrade between two
        # processes); readers start deferred, so WAL lets them read while another writes.
        immediate = conn.get_execution_options().get("kaizen_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (and pool) whose transactions start as writes."""
    return engine.execution_options(kaizen_write=True)


def write_lock(conn: Any, name: str) -> None:
    """Hold the lock ``name`` until this write transaction ends (``conn``: a Connection or
    a Session). For a read-then-write (a watermark, a check-then-insert, a schema change).

    SQLite needs nothing: ``writer()``'s BEGIN IMMEDIATE already lets one writer in at a
    time. PostgreSQL runs writers concurrently, so this takes a transaction-level
    advisory lock; the other servers wait for the commit, then see its result.
    """
    bind = conn.get_bind() if hasattr(conn, "get_bind") else conn
    if bind.dialect.name == "postgresql":
        conn.execute(sql_text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def create_db_engine(path_or_url: str | Path | None) -> Engine:
    """The engine for a setting value; SQLite gets the pragmas above."""
    url = database_url(path_or_url)
    if url.startswith("sqlite"):
        return create_sqlite_engine(url)
    if url.startswith("postgresql"):
        return create_postgresql_engine(url)
    return create_engine(url, pool_pre_ping=True)


def create_postgresql_engine(url: str) -> Engine:
    """A team database: a small pool per server process (a team runs many processes
    against one ``max_connections``), checked before use, named in ``pg_stat_activity``."""
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=int(os.environ.get("KAIZEN_DB_POOL_SIZE", "2")),
        max_overflow=int(os.environ.get("KAIZEN_DB_MAX_OVERFLOW", "4")),
        pool_recycle=1800,
        connect_args={"application_name": "kaizen", "connect_timeout": 10},
    )

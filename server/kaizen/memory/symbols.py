"""The symbol index's rows (``symbol_files``), on SQLite and PostgreSQL alike.

One row per indexed file of a repository; the index itself (``languages.symbols``) lives in
memory and hands over plain values, so this module knows nothing of parsing. Writes are
upserts keyed by (repository, path) in one short transaction per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import delete, select

from .schema import SymbolFile, utcnow
from .sql import dialect_insert

BATCH = 500  # rows per INSERT statement: PostgreSQL and SQLite both bound their parameters


class FileRow(Protocol):
    """What a row is written from (``languages.symbols.FileSymbols`` has this shape)."""

    @property
    def path(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def size(self) -> int: ...

    def as_json(self) -> dict[str, Any]: ...


def load(store: Any, repository: str) -> list[tuple[str, str, str, int, int, dict[str, Any]]]:
    """(path, language, hash, mtime_ns, size, outline) of every row of ``repository``."""
    with store.session() as s:
        rows = s.execute(
            select(
                SymbolFile.path,
                SymbolFile.language,
                SymbolFile.content_hash,
                SymbolFile.mtime_ns,
                SymbolFile.size,
                SymbolFile.outline,
            ).where(SymbolFile.repository == repository)
        )
        return [(r[0], r[1], r[2], int(r[3] or 0), int(r[4] or 0), r[5] or {}) for r in rows]


def save(
    store: Any,
    repository: str,
    changed: Sequence[FileRow],
    removed: Iterable[str] = (),
) -> None:
    """Upsert the changed files' rows and delete the removed ones, in one transaction."""
    gone = list(removed)
    if not changed and not gone:
        return
    now = utcnow()
    with store.sessions.begin() as s:
        for start in range(0, len(changed), BATCH):
            values = [
                {
                    "repository": repository,
                    "path": f.path,
                    "language": f.language,
                    "content_hash": f.hash,
                    "mtime_ns": f.mtime_ns,
                    "size": f.size,
                    "outline": f.as_json(),
                    "updated_at": now,
                }
                for f in changed[start : start + BATCH]
            ]
            stmt = dialect_insert(s, SymbolFile.__table__).values(values)
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["repository", "path"],
                    set_={
                        name: stmt.excluded[name]
                        for name in (
                            "language",
                            "content_hash",
                            "mtime_ns",
                            "size",
                            "outline",
                            "updated_at",
                        )
                    },
                )
            )
        for start in range(0, len(gone), BATCH):
            s.execute(
                delete(SymbolFile).where(
                    SymbolFile.repository == repository,
                    SymbolFile.path.in_(gone[start : start + BATCH]),
                )
            )


def clear(store: Any, repository: str | None = None) -> int:
    """Forget the index (all, or one repository's): the next start rebuilds it."""
    with store.sessions.begin() as s:
        query = delete(SymbolFile)
        if repository is not None:
            query = query.where(SymbolFile.repository == repository)
        return int(s.execute(query).rowcount or 0)

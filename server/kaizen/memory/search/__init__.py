"""Hybrid search over insights, on whichever database the connection is: the one place that
switches on the dialect.

SQLite (the embedded default) uses FTS5 + sqlite-vec (``sqlite_index``, ``sqlite``);
PostgreSQL (teams) uses tsvector/GIN + pgvector HNSW (``postgres``). Both return the same
``SearchHit`` lists, fused and collapsed by ``fusion``, so nothing above the memory layer
knows which backend it talks to. Import this package, never a backend module, outside
``memory/search``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from sqlalchemy import Connection

from ...core.embed import Embedder
from .fusion import NEAR_DUPLICATE_COSINE, SearchHit, fuse, query_terms

__all__ = [
    "NEAR_DUPLICATE_COSINE",
    "SearchHit",
    "ensure_index",
    "exact_knn",
    "fuse",
    "hybrid_search",
    "index_insight",
    "keyword_search",
    "query_terms",
    "remove_insight",
    "vector_search",
]


def _backends(conn: Connection) -> tuple[ModuleType, ModuleType]:
    """(index module, search module) for the connection's database."""
    if conn.dialect.name == "postgresql":
        from . import postgres

        return postgres, postgres
    if conn.dialect.name == "sqlite":
        from . import sqlite, sqlite_index

        return sqlite_index, sqlite
    raise NotImplementedError(
        f"the search index needs SQLite (FTS5 + sqlite-vec) or PostgreSQL (pgvector); "
        f"got {conn.dialect.name}"
    )


def ensure_index(conn: Connection, embedder: Embedder) -> None:
    """Create or repair the index; re-embed everything if the embedder or layout changed.

    Idempotent and cheap when nothing changed (no provider call then). Run it inside
    ``writer(engine).begin()`` so a second process waits and then finds it finished.
    """
    _backends(conn)[0].ensure_index(conn, embedder)


def index_insight(
    conn: Connection, insight_id: int, repository: str, language: str, vector: list[float]
) -> None:
    """Insert or replace one insight's vector, in the transaction that wrote the insight."""
    _backends(conn)[0].index_insight(conn, insight_id, repository, language, vector)


def remove_insight(conn: Connection, insight_id: int) -> None:
    """Forget one insight's vector (its keyword entry follows the base table)."""
    _backends(conn)[0].remove_insight(conn, insight_id)


def keyword_search(
    conn: Connection, query: str, repository: str | None, language: str | None, limit: int
) -> list[int]:
    """Insight ids by keyword rank, best first; [] for a query with no usable terms."""
    return list(_backends(conn)[1].keyword_search(conn, query, repository, language, limit))


def vector_search(
    conn: Connection,
    vector: Sequence[float],
    repository: str | None,
    language: str | None,
    limit: int,
) -> list[tuple[int, float]]:
    """(insight id, cosine distance) of the ``limit`` nearest insights, nearest first."""
    return list(_backends(conn)[1].vector_search(conn, vector, repository, language, limit))


def exact_knn(
    conn: Connection,
    vector: Sequence[float],
    repository: str | None,
    k: int,
    *,
    language: str | None = None,
) -> list[tuple[int, float]]:
    """The exact nearest neighbours (a full scan): the ground truth for recall checks."""
    return list(_backends(conn)[1].exact_knn(conn, vector, repository, k, language=language))


def hybrid_search(
    conn: Connection,
    *,
    query: str,
    vector: Sequence[float],
    repository: str | None,
    language: str | None,
    limit: int = 10,
    rrf_k: int = 60,
) -> list[SearchHit]:
    """The ``limit`` best insights for ``query``/``vector`` in one repository and language.

    ``None`` for repository or language means any. An empty ``vector`` searches keywords
    only.
    """
    return list(
        _backends(conn)[1].hybrid_search(
            conn,
            query=query,
            vector=vector,
            repository=repository,
            language=language,
            limit=limit,
            rrf_k=rrf_k,
        )
    )

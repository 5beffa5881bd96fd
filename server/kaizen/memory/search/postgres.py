"""The search index on PostgreSQL: pgvector HNSW for vectors, tsvector + GIN for keywords.

A team shares one PostgreSQL database; this module is what ``index`` and ``search`` hand
over to when the connection is PostgreSQL, with the same signatures and the same results
shape (``SearchHit``), so nothing above the memory layer knows which backend it talks to.

- Keywords: ``workflow_insights.search_tsv``, a stored generated ``tsvector`` (summary
  weighted A, detail B, category C; the ``simple`` configuration, so identifiers are kept
  as written, like FTS5's unicode61) with a GIN index. Ranking is ``ts_rank`` with weights
  in the same 2 : 1 : 0.5 ratio as the SQLite side's BM25 weights. As on SQLite, the
  rarest query terms are chosen first within a budget of matching documents, with
  document frequencies from PostgreSQL's own column statistics (``pg_stats``).
- Vectors: ``insights_vec`` (insight id, repository, language, ``vector(dim)``) with an
  HNSW index (``vector_cosine_ops``). A side table, not a column of ``workflow_insights``,
  so that bumping ``occurrences`` never rewrites a vector or touches the HNSW graph. A
  zero vector is stored as NULL: it has no direction, so nothing is near it.
- Filters: HNSW filters *after* the graph walk, so a query scoped to a small repository
  could come back short. Search asks the planner how many rows the filter keeps: few
  (< ``EXACT_MAX``) are scanned exactly (cheap and perfect), many go through HNSW with
  ``hnsw.ef_search`` raised in proportion to how selective the filter is; a short answer
  falls back to the exact scan.
- Fusion and near-duplicate collapse are the same as on SQLite (``search.fuse``).

``ensure_index`` takes a transaction-level advisory lock, so several servers starting at
once build the index once; the others wait and then find it done.

Measured by ``benchmarks/bench_postgres.py`` (2 cores, PostgreSQL 16 + pgvector 0.6, dim
384): hybrid search p50 ~8 ms at 100k insights and ~11 ms at 1M, vector recall@10 0.98 at
100k and 0.95 at 1M (``EF_SEARCH_MIN`` trades latency for recall).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text

from ...core.embed import Embedder, normalise
from ..db import write_lock
from . import fusion as _search
from .fusion import embed_insights, index_dim, index_is_current, record_layout

log = logging.getLogger(__name__)

VEC_TABLE = "insights_vec"
TSV_COLUMN = "search_tsv"
LAYOUT_VERSION = "pg1"
"""Bump when the PostgreSQL layout changes: ``ensure_index`` then rebuilds."""

EXACT_MAX = 20_000
"""Filtered subsets smaller than this (planner estimate) are searched by exact scan."""
EF_SEARCH_MIN = 200
EF_SEARCH_MAX = 1000  # pgvector's upper bound for hnsw.ef_search
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
KEYWORD_DOC_BUDGET = 2000
"""Most documents the keyword side may rank (``ts_rank`` costs a few us per document)."""
_STATS_TTL_S = 300.0
_TS_WEIGHTS = "{0.1, 0.25, 0.5, 1.0}"  # D, C (category), B (detail), A (summary)

_TSV_EXPRESSION = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(summary, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(detail, '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(category, '')), 'C')"
)


def _vector_type() -> Any:
    try:
        from pgvector.sqlalchemy import VECTOR
    except ImportError as exc:  # pragma: no cover - the postgres extra is not installed
        raise RuntimeError(
            "PostgreSQL support needs the postgres extra: pip install 'kaizen-lsp[postgres]'"
        ) from exc
    return VECTOR()


def _vec_param(name: str = "vec") -> Any:
    return bindparam(name, type_=_vector_type())


# meta and catalog ----------------------------------------------------------------------------


def _has_table(conn: Connection, name: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar() is True


def _has_column(conn: Connection, table: str, column: str) -> bool:
    row = conn.execute(
        text(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = :t AND column_name = :c"
        ),
        {"t": table, "c": column},
    ).first()
    return row is not None


def _ensure_extension(conn: Connection) -> None:
    if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first():
        return
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except Exception as exc:
        raise RuntimeError(
            "the pgvector extension is missing and this role may not create it: ask the "
            "database owner to run CREATE EXTENSION vector; in this database"
        ) from exc


def _ensure_keywords(conn: Connection) -> None:
    """The generated tsvector column and its GIN index (checked first: ALTER locks)."""
    if not _has_column(conn, "workflow_insights", TSV_COLUMN):
        conn.exec_driver_sql(
            f"ALTER TABLE workflow_insights ADD COLUMN {TSV_COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({_TSV_EXPRESSION}) STORED"
        )
        # Room on each page for the new version of a row whose counter is bumped, so the
        # update stays heap-only and touches no index.
        conn.exec_driver_sql("ALTER TABLE workflow_insights SET (fillfactor = 85)")
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS ix_insights_search_tsv ON workflow_insights "
        f"USING gin ({TSV_COLUMN})"
    )


def _create_vec(conn: Connection, dim: int) -> None:
    conn.exec_driver_sql(
        f"""CREATE TABLE {VEC_TABLE} (
            insight_id INTEGER PRIMARY KEY
                REFERENCES workflow_insights (id) ON DELETE CASCADE,
            repository TEXT NOT NULL,
            language TEXT NOT NULL,
            embedding vector({dim}))"""
    )
    conn.exec_driver_sql(f"CREATE INDEX {VEC_TABLE}_scope ON {VEC_TABLE} (repository, language)")
    # An insight moved to another repository or language must not leak across the filter.
    conn.exec_driver_sql(
        f"""CREATE OR REPLACE FUNCTION kaizen_{VEC_TABLE}_scope() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE {VEC_TABLE} SET repository = NEW.repository, language = NEW.language
            WHERE insight_id = NEW.id;
            RETURN NULL;
        END $$"""
    )
    conn.exec_driver_sql(
        f"""CREATE TRIGGER {VEC_TABLE}_scope AFTER UPDATE OF repository, language
        ON workflow_insights FOR EACH ROW
        WHEN (OLD.repository IS DISTINCT FROM NEW.repository
              OR OLD.language IS DISTINCT FROM NEW.language)
        EXECUTE FUNCTION kaizen_{VEC_TABLE}_scope()"""
    )


def create_hnsw(conn: Connection) -> None:
    """The HNSW index (built after a bulk fill: faster than inserting into the graph)."""
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {VEC_TABLE}_hnsw ON {VEC_TABLE} "
        f"USING hnsw (embedding vector_cosine_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
    )


def _drop_vec(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {VEC_TABLE}_scope ON workflow_insights")
    conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS kaizen_{VEC_TABLE}_scope()")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {VEC_TABLE}")


# writing -------------------------------------------------------------------------------------


def file_vectors(conn: Connection, items: Sequence[tuple[int, str, str, Sequence[float]]]) -> None:
    """Upsert (id, repository, language, vector) rows into the vector table, one statement."""
    if not items:
        return
    dim = index_dim(conn)
    rows = []
    for insight_id, repository, language, vector in items:
        if len(vector) != dim:
            raise ValueError(f"vector has dimension {len(vector)}, the index has {dim}")
        unit = normalise(vector)
        rows.append(
            {
                "id": insight_id,
                "repo": repository,
                "lang": language,
                "vec": unit if any(unit) else None,
            }
        )
    conn.execute(
        text(
            f"INSERT INTO {VEC_TABLE} (insight_id, repository, language, embedding) "
            "VALUES (:id, :repo, :lang, :vec) ON CONFLICT (insight_id) DO UPDATE SET "
            "repository = excluded.repository, language = excluded.language, "
            "embedding = excluded.embedding"
        ).bindparams(_vec_param()),
        rows,
    )


def _embed_insights(conn: Connection, embedder: Embedder, where: str) -> int:
    """The shared re-embedding loop, filing into the pgvector table."""
    return embed_insights(conn, embedder, where, file_vectors)


def _analyze_if_never(conn: Connection) -> None:
    """Keyword term selection reads pg_stats: give a big, never-analysed table its stats."""
    analysed = conn.execute(
        text(
            "SELECT 1 FROM pg_stats WHERE schemaname = current_schema() "
            "AND tablename = 'workflow_insights' AND attname = :c"
        ),
        {"c": TSV_COLUMN},
    ).first()
    if analysed is None:
        conn.exec_driver_sql("ANALYZE workflow_insights")


def ensure_index(conn: Connection, embedder: Embedder) -> None:
    """Create or repair the index; re-embed everything if the embedder or layout changed.

    Same contract as ``index.ensure_index``: idempotent, cheap when nothing changed (one
    anti-join to backfill insights written without a vector), no provider call then.
    """
    write_lock(conn, "kaizen:index")  # servers starting together build it once
    _ensure_extension(conn)
    _ensure_keywords(conn)
    if _has_table(conn, VEC_TABLE) and index_is_current(conn, embedder, LAYOUT_VERSION):
        backfilled = _embed_insights(
            conn,
            embedder,
            f"NOT EXISTS (SELECT 1 FROM {VEC_TABLE} v WHERE v.insight_id = w.id)",
        )
        if backfilled:
            log.info("indexed %d insights that had no vector", backfilled)
        create_hnsw(conn)
        return
    _drop_vec(conn)
    _create_vec(conn, record_layout(conn, embedder, LAYOUT_VERSION))
    count = _embed_insights(conn, embedder, "1 = 1")
    create_hnsw(conn)
    if count > 1000:
        _analyze_if_never(conn)
    log.info("indexed %d insights with %s", count, embedder.name)


def index_insight(
    conn: Connection, insight_id: int, repository: str, language: str, vector: list[float]
) -> None:
    """Insert or replace the vector of one insight."""
    file_vectors(conn, [(insight_id, repository, language, vector)])


def remove_insight(conn: Connection, insight_id: int) -> None:
    """Forget the vector of one insight (deleting the insight cascades here too)."""
    conn.execute(text(f"DELETE FROM {VEC_TABLE} WHERE insight_id = :id"), {"id": insight_id})


# keywords ------------------------------------------------------------------------------------

_term_stats: dict[str, tuple[float, dict[str, float], float, float]] = {}


def _document_frequencies(conn: Connection) -> tuple[dict[str, float], float]:
    """(term -> estimated documents, estimate for a term not in the list), cached a while.

    From ANALYZE's most-common-elements of the tsvector column; a term not listed is rarer
    than every listed one (PostgreSQL's planner assumes half the least frequent).
    """
    key = str(conn.engine.url)
    now = time.monotonic()
    cached = _term_stats.get(key)
    if cached is not None and now - cached[0] < _STATS_TTL_S:
        return cached[1], cached[2]
    rows = float(
        conn.execute(
            text("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = to_regclass(:t)"),
            {"t": "workflow_insights"},
        ).scalar()
        or 0.0
    )
    stats = conn.execute(
        text(
            "SELECT most_common_elems::text AS elems, most_common_elem_freqs AS freqs "
            "FROM pg_stats WHERE schemaname = current_schema() "
            "AND tablename = 'workflow_insights' AND attname = :c"
        ),
        {"c": TSV_COLUMN},
    ).first()
    df: dict[str, float] = {}
    unknown = 0.0
    if stats is not None and stats.elems and stats.freqs:
        elems = _parse_text_array(stats.elems)
        freqs = list(stats.freqs)
        for elem, freq in zip(elems, freqs, strict=False):
            df[elem] = float(freq) * rows
        listed = freqs[: len(elems)]
        unknown = (min(listed) / 2.0) * rows if listed else 0.0
    _term_stats[key] = (now, df, unknown, rows)
    return df, unknown


def _parse_text_array(value: str) -> list[str]:
    """A PostgreSQL text[] literal (``{a,b,"c d"}``) as a list."""
    body = value.strip()[1:-1]
    out: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in body:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    if body:
        out.append("".join(current))
    return out


def _select_terms(conn: Connection, terms: list[str]) -> list[str]:
    """The rarest terms whose documents fit the budget, as on SQLite."""
    if not terms:
        return []
    df, unknown = _document_frequencies(conn)
    chosen: list[str] = []
    spent = 0.0
    for term in sorted(terms, key=lambda t: df.get(t, unknown)):
        cost = df.get(term, unknown)
        if spent + cost > KEYWORD_DOC_BUDGET:
            continue
        chosen.append(term)
        spent += cost
    return chosen


def _filters(repository: str | None, language: str | None) -> str:
    sql = ""
    if repository is not None:
        sql += " AND repository = :repo"
    if language is not None:
        sql += " AND language = :lang"
    return sql


def keyword_search(
    conn: Connection, query: str, repository: str | None, language: str | None, limit: int
) -> list[int]:
    """Insight ids by ``ts_rank`` (summary weighs most), best first; [] without terms."""
    terms = _select_terms(conn, _search.query_terms(query))
    if not terms:
        return []
    # Terms are letters and digits only (query_terms), so they cannot form tsquery syntax.
    sql = (
        "SELECT id FROM workflow_insights, to_tsquery('simple', :q) AS q "
        f"WHERE {TSV_COLUMN} @@ q{_filters(repository, language)} "
        f"ORDER BY ts_rank('{_TS_WEIGHTS}', {TSV_COLUMN}, q) DESC, id LIMIT :n"
    )
    params = {"q": " | ".join(terms), "repo": repository, "lang": language, "n": limit}
    return [int(row.id) for row in conn.execute(text(sql), params)]


# vectors -------------------------------------------------------------------------------------


def _estimated_rows(conn: Connection, repository: str | None, language: str | None) -> float:
    """The planner's estimate of the vector rows the filter keeps (no scan)."""
    plan: Any = conn.execute(
        text(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {VEC_TABLE} "
            f"WHERE true{_filters(repository, language)}"
        ),
        {"repo": repository, "lang": language},
    ).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def _exact(
    conn: Connection, unit: list[float], repository: str | None, language: str | None, k: int
) -> list[tuple[int, float]]:
    # "+ 0" keeps the planner off the HNSW index: this scan must be exact.
    sql = (
        f"SELECT insight_id AS id, (embedding <=> :vec) + 0 AS d FROM {VEC_TABLE} "
        f"WHERE embedding IS NOT NULL{_filters(repository, language)} "
        "ORDER BY d, insight_id LIMIT :k"
    )
    params = {"vec": unit, "repo": repository, "lang": language, "k": k}
    rows = conn.execute(text(sql).bindparams(_vec_param()), params)
    return [(int(row.id), float(row.d)) for row in rows]


def _hnsw(
    conn: Connection,
    unit: list[float],
    repository: str | None,
    language: str | None,
    k: int,
    ef_search: int,
) -> list[tuple[int, float]]:
    conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": str(ef_search)})
    sql = (
        f"SELECT insight_id AS id, embedding <=> :vec AS d FROM {VEC_TABLE} "
        f"WHERE embedding IS NOT NULL{_filters(repository, language)} "
        "ORDER BY embedding <=> :vec LIMIT :k"
    )
    params = {"vec": unit, "repo": repository, "lang": language, "k": k}
    rows = conn.execute(text(sql).bindparams(_vec_param()), params)
    return sorted(((int(row.id), float(row.d)) for row in rows), key=lambda r: (r[1], r[0]))


def vector_search(
    conn: Connection,
    vector: Sequence[float],
    repository: str | None,
    language: str | None,
    limit: int,
) -> list[tuple[int, float]]:
    """(insight id, cosine distance), nearest first: HNSW, or exact for small subsets."""
    dim = index_dim(conn)
    if len(vector) != dim:
        raise ValueError(f"query vector has dimension {len(vector)}, the index has {dim}")
    unit = normalise(vector)
    if not any(unit) or limit <= 0:
        return []
    kept = _estimated_rows(conn, repository, language)
    if kept < EXACT_MAX:
        return _exact(conn, unit, repository, language, limit)
    unfiltered = repository is None and language is None
    total = kept if unfiltered else max(_estimated_rows(conn, None, None), kept)
    ef = math.ceil(2 * limit * total / max(kept, 1.0))
    ef = max(EF_SEARCH_MIN, min(EF_SEARCH_MAX, ef))
    hits = _hnsw(conn, unit, repository, language, limit, ef)
    if len(hits) < limit:  # the filter kept fewer than the graph walk found: be exact
        return _exact(conn, unit, repository, language, limit)
    return hits


def exact_knn(
    conn: Connection,
    vector: Sequence[float],
    repository: str | None,
    k: int,
    *,
    language: str | None = None,
) -> list[tuple[int, float]]:
    """(insight id, cosine distance) by exact scan: the recall baseline."""
    unit = normalise(vector)
    if not any(unit):
        return []
    return _exact(conn, unit, repository, language, k)


# fusion --------------------------------------------------------------------------------------


def _near_duplicates(conn: Connection, ids: list[int]) -> set[tuple[int, int]]:
    if len(ids) < 2:
        return set()
    sql = text(
        f"WITH v AS (SELECT insight_id AS id, embedding FROM {VEC_TABLE} "
        "WHERE insight_id IN :ids AND embedding IS NOT NULL) "
        "SELECT a.id AS a, b.id AS b FROM v a JOIN v b ON b.id > a.id "
        "WHERE (a.embedding <=> b.embedding) <= :d"
    ).bindparams(bindparam("ids", expanding=True))
    rows = conn.execute(sql, {"ids": ids, "d": 1.0 - _search.NEAR_DUPLICATE_COSINE})
    return {(int(row.a), int(row.b)) for row in rows}


def hybrid_search(
    conn: Connection,
    *,
    query: str,
    vector: Sequence[float],
    repository: str | None,
    language: str | None,
    limit: int = 10,
    rrf_k: int = 60,
) -> list[_search.SearchHit]:
    """Same contract as ``search.hybrid_search``, on PostgreSQL."""
    if limit <= 0:
        return []
    pool = max(2 * limit, 20)
    keyword_ids = keyword_search(conn, query, repository, language, pool)
    vector_ids = (
        [i for i, _ in vector_search(conn, vector, repository, language, pool)]
        if len(vector)
        else []
    )
    return _search.collapse_near_duplicates(
        conn, _search.fuse(keyword_ids, vector_ids, rrf_k), limit, _near_duplicates
    )

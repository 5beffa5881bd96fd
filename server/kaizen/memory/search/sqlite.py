"""Hybrid search over insights: FTS5/BM25 and sqlite-vec KNN, fused by reciprocal rank.

Keywords catch exact identifiers and error names; vectors catch the same lesson worded
differently. Reciprocal rank fusion needs no score calibration between the two, which
matters because BM25 and cosine live on unrelated scales. Near-duplicate insights (cosine
>= 0.97) are collapsed so a prompt's token budget is not spent on one lesson twice.

Both sides are built to stay within a few milliseconds at 100k insights; see
``index.py`` for the vector layout and ``benchmarks/bench_search.py`` for the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text

from ...core.embed import normalise
from .fusion import (
    NEAR_DUPLICATE_COSINE,
    SearchHit,
    collapse_near_duplicates,
    fuse,
    index_dim,
    query_terms,
)
from .sqlite_index import (
    FLOAT_TABLE,
    FTS_TABLE,
    SAMPLE_EVERY,
    SAMPLE_TABLE,
    VEC_TABLE,
    VOCAB_TABLE,
    pack,
    quantize,
    require_sqlite,
)

_NEAR_DUPLICATE_L2 = (2.0 * (1.0 - NEAR_DUPLICATE_COSINE)) ** 0.5  # for unit vectors
SAMPLE_RANK = 16
"""The sample's r-th nearest code bounds the full scan to ~SAMPLE_EVERY * r candidates."""
KEYWORD_DOC_BUDGET = 1000
"""Most documents the keyword side may score: BM25 costs ~1 us per matching document."""


def _select_terms(conn: Connection, terms: list[str]) -> list[str]:
    """The rarest terms whose documents fit the budget: common terms cost most, weigh least."""
    if not terms:
        return []
    rows = conn.execute(
        text(f"SELECT term, doc FROM {VOCAB_TABLE} WHERE term IN :terms").bindparams(
            bindparam("terms", expanding=True)
        ),
        {"terms": terms},
    ).all()
    df = {row.term: int(row.doc) for row in rows}
    chosen: list[str] = []
    spent = 0
    for term in sorted((t for t in terms if t in df), key=df.__getitem__):
        if spent + df[term] > KEYWORD_DOC_BUDGET:
            continue
        chosen.append(term)
        spent += df[term]
    return chosen


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 OR-of-phrases; each term quoted (and quotes doubled, belt and braces)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _filters(repository: str | None, language: str | None, prefix: str = "") -> str:
    sql = ""
    if repository is not None:
        sql += f" AND {prefix}repository = :repo"
    if language is not None:
        sql += f" AND {prefix}language = :lang"
    return sql


def keyword_search(
    conn: Connection, query: str, repository: str | None, language: str | None, limit: int
) -> list[int]:
    """Insight ids by BM25 (summary weighs most), best first; [] for a query with no terms."""
    require_sqlite(conn)
    terms = _select_terms(conn, query_terms(query))
    if not terms:
        return []
    # CROSS JOIN pins FTS5 as the outer loop; otherwise SQLite may walk every insight of
    # the repository and probe the full-text index once per row.
    sql = (
        f"SELECT {FTS_TABLE}.rowid AS id FROM {FTS_TABLE} "
        f"CROSS JOIN workflow_insights w ON w.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH :q{_filters(repository, language, 'w.')} "
        f"ORDER BY bm25({FTS_TABLE}, 2.0, 1.0, 0.5) LIMIT :n"
    )
    params = {"q": match_expression(terms), "repo": repository, "lang": language, "n": limit}
    return [int(row.id) for row in conn.execute(text(sql), params)]


# A stored zero vector (an insight with no words) has no direction: call it orthogonal.
_COSINE = "COALESCE(vec_distance_cosine({v}, :vec), 1.0)"


def vector_search(
    conn: Connection,
    vector: Sequence[float],
    repository: str | None,
    language: str | None,
    limit: int,
) -> list[tuple[int, float]]:
    """(insight id, cosine distance), nearest first: bounded code scan, then float rescore."""
    require_sqlite(conn)
    dim = index_dim(conn)
    if len(vector) != dim:
        raise ValueError(f"query vector has dimension {len(vector)}, the index has {dim}")
    unit = normalise(vector)
    if not any(unit):
        return []  # no features, no direction: nothing is near
    rank = max(SAMPLE_RANK, limit)
    cap = min(4096, 3 * SAMPLE_EVERY * rank)
    where = _filters(repository, language)
    params: dict[str, Any] = {
        "code": quantize(unit),
        "vec": pack(unit),
        "repo": repository,
        "lang": language,
        "r": rank,
        "cap": cap,
        "n": limit,
    }
    sample = conn.execute(
        text(
            f"SELECT distance FROM {SAMPLE_TABLE} WHERE code MATCH vec_bit(:code) AND k = :r{where}"
        ),
        params,
    ).all()
    if len(sample) >= rank:
        where += " AND distance <= :bound"
        params["bound"] = float(sample[-1].distance)
    sql = (
        f"WITH cand AS (SELECT insight_id FROM {VEC_TABLE} "
        f"WHERE code MATCH vec_bit(:code) AND k = :cap{where}) "
        "SELECT f.insight_id AS id, vec_distance_l2(f.embedding, :vec) AS d "
        f"FROM cand JOIN {FLOAT_TABLE} f ON f.insight_id = cand.insight_id "
        "ORDER BY d, f.insight_id LIMIT :n"
    )
    # Stored vectors are unit length (index_insight), so cosine distance = l2^2 / 2.
    return [(int(row.id), row.d * row.d / 2.0) for row in conn.execute(text(sql), params)]


def exact_knn(
    conn: Connection,
    vector: Sequence[float],
    repository: str | None,
    k: int,
    *,
    language: str | None = None,
) -> list[tuple[int, float]]:
    """(insight id, cosine distance) by exact float brute force: the recall baseline."""
    require_sqlite(conn)
    sql = (
        f"SELECT insight_id AS id, {_COSINE.format(v='embedding')} AS d "
        f"FROM {FLOAT_TABLE} WHERE 1 = 1{_filters(repository, language)} "
        "ORDER BY d, insight_id LIMIT :k"
    )
    params = {"vec": pack(normalise(vector)), "repo": repository, "lang": language, "k": k}
    return [(int(row.id), float(row.d)) for row in conn.execute(text(sql), params)]


def _near_duplicates(conn: Connection, ids: list[int]) -> set[tuple[int, int]]:
    """Pairs (lower id, higher id) among ``ids`` whose vectors are near-identical.

    Each vector is read once (SQLite materialises a CTE used twice); pairs compare in C.
    """
    if len(ids) < 2:
        return set()
    sql = text(
        f"WITH v AS (SELECT insight_id AS id, embedding FROM {FLOAT_TABLE} "
        "WHERE insight_id IN :ids) "
        "SELECT a.id AS a, b.id AS b FROM v a JOIN v b ON b.id > a.id "
        "WHERE vec_distance_l2(a.embedding, b.embedding) <= :d"
    ).bindparams(bindparam("ids", expanding=True))
    rows = conn.execute(sql, {"ids": ids, "d": _NEAR_DUPLICATE_L2})
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
) -> list[SearchHit]:
    """The ``limit`` best insights for ``query``/``vector`` in one repository and language.

    ``None`` for repository or language means any. An empty ``vector`` searches keywords
    only. Each side contributes ``2 * limit`` (at least 20) candidates to the fusion.
    """
    require_sqlite(conn)
    if limit <= 0:
        return []
    pool = max(2 * limit, 20)
    keyword_ids = keyword_search(conn, query, repository, language, pool)
    vector_ids = (
        [i for i, _ in vector_search(conn, vector, repository, language, pool)]
        if len(vector)
        else []
    )
    return collapse_near_duplicates(
        conn, fuse(keyword_ids, vector_ids, rrf_k), limit, _near_duplicates
    )

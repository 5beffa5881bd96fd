"""The search index over ``workflow_insights``: FTS5 for keywords, sqlite-vec for vectors.

Why this layout (measured at 100k insights, dim 384, on a 2-core box whose sqlite-vec
wheel has no SIMD): float brute force in vec0 costs ~30 ms a query, and vec0's top-k
selection costs O(rows x k), so "binary KNN for 400 candidates" costs ~45 ms too. What is
fast is a scan of short codes *with a distance bound*, which leaves few rows to select from.

- ``insights_vec`` (vec0): a ternary code per insight, 2 bits a dimension (> +t, < -t,
  t = 0.6/sqrt(dim)), partitioned by repository and language (a metadata filter on
  language cost 20% more than scanning its partition). Plain sign bits lose too much on
  the sparse vectors of the hashing embedder (recall@10 0.82 with 200 candidates);
  ternary codes keep it at 0.96-0.99 and cost one popcount scan.
- ``insights_vec_sample`` (vec0): the same codes for a fixed 1/16 of the insights. Its
  r-th nearest code tells search what distance bound yields ~16r candidates in the full
  table, so one bounded scan replaces an expensive large-k one.
- ``insights_vec_float`` (plain table): the float32 vectors, for exact rescoring of the
  candidates and for near-duplicate checks; a rowid lookup here is 2-10x cheaper than
  reading a vector back out of a vec0 chunk.

Triggers keep ``insights_fts`` and ``insights_vec_float`` in step with the base table.
vec0 tables are never touched from a trigger (databases with ``trusted_schema=OFF`` would
then refuse every delete); a vec0 row whose float row is gone is ignored by search (the
rescore joins the float table) and swept by the next ``ensure_index``.
"""

from __future__ import annotations

import logging
import math
from array import array
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from ...core.embed import Embedder, normalise
from .fusion import embed_insights, index_dim, index_is_current, record_layout

log = logging.getLogger(__name__)

FTS_TABLE = "insights_fts"
VEC_TABLE = "insights_vec"
SAMPLE_TABLE = "insights_vec_sample"
FLOAT_TABLE = "insights_vec_float"
VOCAB_TABLE = "insights_fts_vocab"

SAMPLE_EVERY = 16
"""One insight in this many also goes to the sample table (chosen by a hash of the id)."""

LAYOUT_VERSION = "2"
"""Bump when the vector layout or code changes: ``ensure_index`` then rebuilds."""

_CHUNK_SIZE = 256  # vec0 rows per chunk; small so that small repositories waste little


def code_bits(dim: int) -> int:
    """Length of the ternary code: 2 bits a dimension, padded for vec0's u64 popcount."""
    return -(-2 * dim // 64) * 64


def quantize(vector: Sequence[float]) -> bytes:
    """Ternary code: bit i if x_i > t, bit dim+i if x_i < -t; Hamming ~ L1 of ternary values.

    Sign-only bits cannot tell 0 from negative, and the hashing embedder's vectors are
    mostly zeros; the dead zone also carries magnitude for dense provider vectors.
    """
    dim = len(vector)
    t = 0.6 / math.sqrt(dim)
    pos = "".join("1" if x > t else "0" for x in reversed(vector))
    neg = "".join("1" if x < -t else "0" for x in reversed(vector))
    return (int(pos, 2) | (int(neg, 2) << dim)).to_bytes(code_bits(dim) // 8, "little")


def pack(vector: Sequence[float]) -> bytes:
    """float32 blob, the format sqlite-vec's functions read."""
    return array("f", vector).tobytes()


def in_sample(insight_id: int) -> bool:
    """Deterministic 1/SAMPLE_EVERY choice; a multiplicative hash so id strides do not bias it."""
    return ((insight_id * 2654435761) & 0xFFFFFFFF) % SAMPLE_EVERY == 0


def require_sqlite(conn: Connection) -> None:
    """FTS5 and sqlite-vec are SQLite features (PostgreSQL is handed to ``pg`` earlier)."""
    if conn.dialect.name != "sqlite":
        raise NotImplementedError(
            f"the search index needs SQLite (FTS5 + sqlite-vec); got {conn.dialect.name}"
        )


def _has_table(conn: Connection, name: str) -> bool:
    row = conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": name}).first()
    return row is not None


_FTS_DDL = [
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        summary, detail, category,
        content='workflow_insights', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCAB_TABLE} USING fts5vocab({FTS_TABLE}, 'row')",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON workflow_insights BEGIN
        INSERT INTO {FTS_TABLE}(rowid, summary, detail, category)
        VALUES (new.id, new.summary, new.detail, new.category);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON workflow_insights BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, summary, detail, category)
        VALUES ('delete', old.id, old.summary, old.detail, old.category);
    END""",
    # Only text changes touch the index: counters (occurrences) are bumped far more often.
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au
        AFTER UPDATE OF summary, detail, category ON workflow_insights BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, summary, detail, category)
        VALUES ('delete', old.id, old.summary, old.detail, old.category);
        INSERT INTO {FTS_TABLE}(rowid, summary, detail, category)
        VALUES (new.id, new.summary, new.detail, new.category);
    END""",
]

_FLOAT_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {FLOAT_TABLE} (
        insight_id INTEGER PRIMARY KEY,
        repository TEXT NOT NULL,
        language TEXT NOT NULL,
        embedding BLOB NOT NULL)""",
    f"""CREATE TRIGGER IF NOT EXISTS {FLOAT_TABLE}_ad AFTER DELETE ON workflow_insights BEGIN
        DELETE FROM {FLOAT_TABLE} WHERE insight_id = old.id;
    END""",
    # A vector filed under the wrong repository would leak across the filter: drop it
    # until index_insight (or the next ensure_index backfill) files it again.
    f"""CREATE TRIGGER IF NOT EXISTS {FLOAT_TABLE}_au
        AFTER UPDATE OF repository, language ON workflow_insights BEGIN
        DELETE FROM {FLOAT_TABLE} WHERE insight_id = old.id;
    END""",
]


def _create_fts(conn: Connection) -> None:
    if _has_table(conn, FTS_TABLE):
        return
    for ddl in _FTS_DDL:
        conn.exec_driver_sql(ddl)
    # External content: index whatever the base table already holds.
    conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def _create_vec(conn: Connection, dim: int) -> None:
    bits = code_bits(dim)
    for name in (VEC_TABLE, SAMPLE_TABLE):
        conn.exec_driver_sql(
            f"""CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING vec0(
                insight_id INTEGER PRIMARY KEY,
                repository TEXT PARTITION KEY,
                language TEXT PARTITION KEY,
                code BIT[{bits}],
                chunk_size={_CHUNK_SIZE})"""
        )
    for ddl in _FLOAT_DDL:
        conn.exec_driver_sql(ddl)


def _drop_vec(conn: Connection) -> None:
    for name in (VEC_TABLE, SAMPLE_TABLE, FLOAT_TABLE):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


def ensure_index(conn: Connection, embedder: Embedder) -> None:
    """Create or repair the index; re-embed everything if the embedder or layout changed.

    Idempotent, and cheap when nothing changed: a sweep of orphaned vec0 rows and one
    anti-join to backfill insights written without a vector; a provider embedder is not
    called then (no network at start-up). Run it inside ``writer(engine).begin()``: its
    ``BEGIN IMMEDIATE`` makes a second process wait, then find the index finished.
    Re-embedding happens inside that transaction, so a switch is all-or-nothing (and
    holds the write lock meanwhile: other writers wait up to the busy timeout).
    """
    require_sqlite(conn)
    _create_fts(conn)
    present = all(_has_table(conn, t) for t in (VEC_TABLE, SAMPLE_TABLE, FLOAT_TABLE))
    if present and index_is_current(conn, embedder, LAYOUT_VERSION):
        _sweep_orphans(conn)
        backfilled = embed_insights(
            conn,
            embedder,
            f"NOT EXISTS (SELECT 1 FROM {FLOAT_TABLE} f WHERE f.insight_id = w.id)",
            _file,
        )
        if backfilled:
            log.info("indexed %d insights that had no vector", backfilled)
        return
    _drop_vec(conn)
    _create_vec(conn, record_layout(conn, embedder, LAYOUT_VERSION))
    count = embed_insights(conn, embedder, "1 = 1", _file)
    log.info("indexed %d insights with %s", count, embedder.name)


def _sweep_orphans(conn: Connection) -> None:
    """Drop vec0 rows whose float row is gone (insight deleted or moved, by trigger)."""
    for name in (VEC_TABLE, SAMPLE_TABLE):
        conn.exec_driver_sql(
            f"DELETE FROM {name} WHERE insight_id IN (SELECT r.rowid FROM {name}_rowids r "
            f"WHERE NOT EXISTS (SELECT 1 FROM {FLOAT_TABLE} f WHERE f.insight_id = r.rowid))"
        )


def _file(conn: Connection, items: Sequence[tuple[int, str, str, Sequence[float]]]) -> None:
    """Write (id, repository, language, vector) rows absent from the vector tables.

    One executemany per table. Zero vectors get a float row but no code: without a
    direction nothing is near them, and the float row marks them as indexed.
    """
    dim = index_dim(conn)
    rows: list[dict[str, Any]] = []  # bind parameters of one executemany
    for insight_id, repository, language, vector in items:
        if len(vector) != dim:
            raise ValueError(f"vector has dimension {len(vector)}, the index has {dim}")
        unit = normalise(vector)
        rows.append(
            {
                "id": insight_id,
                "repo": repository,
                "lang": language,
                "vec": pack(unit),
                "code": quantize(unit) if any(unit) else None,
            }
        )
    if not rows:
        return
    conn.execute(
        text(
            f"INSERT INTO {FLOAT_TABLE} (insight_id, repository, language, embedding) "
            "VALUES (:id, :repo, :lang, :vec)"
        ),
        rows,
    )
    coded = [row for row in rows if row["code"] is not None]
    for name, subset in (
        (VEC_TABLE, coded),
        (SAMPLE_TABLE, [row for row in coded if in_sample(row["id"])]),
    ):
        if subset:
            conn.execute(
                text(
                    f"INSERT INTO {name} (insight_id, repository, language, code) "
                    "VALUES (:id, :repo, :lang, vec_bit(:code))"
                ),
                subset,
            )


def index_insight(
    conn: Connection, insight_id: int, repository: str, language: str, vector: list[float]
) -> None:
    """Insert or replace the vector of one insight (sqlite-vec 0.1.9 has no OR REPLACE).

    Call it in the ``writer(engine)`` transaction that wrote the insight, so the row and
    its vector commit together.
    """
    require_sqlite(conn)
    remove_insight(conn, insight_id)
    _file(conn, [(insight_id, repository, language, vector)])


def remove_insight(conn: Connection, insight_id: int) -> None:
    """Forget the vector of one insight (its FTS row follows the base table by trigger)."""
    require_sqlite(conn)
    for name in (VEC_TABLE, SAMPLE_TABLE, FLOAT_TABLE):
        conn.execute(text(f"DELETE FROM {name} WHERE insight_id = :id"), {"id": insight_id})

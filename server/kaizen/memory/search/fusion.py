"""What both search backends share: the result type, query tokens, reciprocal rank fusion,
near-duplicate collapse, and the re-embedding loop that fills a backend's vector tables.

Reciprocal rank fusion needs no score calibration between keywords and vectors, which
matters because BM25 / ``ts_rank`` and cosine live on unrelated scales. Near-duplicate
insights (cosine >= 0.97) are collapsed so a prompt's token budget is not spent on one
lesson twice.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

from ...core.embed import STOPWORDS, Embedder, LiteLLMEmbedder, insight_text
from ..meta import get_meta, set_meta

log = logging.getLogger(__name__)

NEAR_DUPLICATE_COSINE = 0.97
MAX_QUERY_TERMS = 24
_REEMBED_BATCH = 256

Filer = Callable[[Connection, Sequence[tuple[int, str, str, Sequence[float]]]], None]
"""Writes (insight id, repository, language, vector) rows into a backend's vector tables."""


@dataclass
class SearchHit:
    """One fused result; a rank is None when that side did not return the insight."""

    insight_id: int
    score: float
    keyword_rank: int | None
    vector_rank: int | None


_TOKEN = re.compile(r"[^\W_]+")


def query_terms(query: str) -> list[str]:
    """Distinct, lower-cased, diacritic-free word tokens the way FTS5's unicode61 sees them.

    Only letters and digits survive, so quotes, ``*``, ``NEAR(``, ``-`` and column filters
    in user or model text can never reach the MATCH grammar.
    """
    folded = unicodedata.normalize("NFKD", query.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    terms = [t for t in dict.fromkeys(_TOKEN.findall(folded)) if t not in STOPWORDS]
    return terms[:MAX_QUERY_TERMS]


PairFinder = Callable[[Connection, list[int]], set[tuple[int, int]]]


def collapse_near_duplicates(
    conn: Connection,
    hits: Sequence[SearchHit],
    limit: int,
    near_duplicates: PairFinder,
) -> list[SearchHit]:
    """The first ``limit`` hits, skipping any near-duplicate of a better hit already kept.

    Pairs are checked among the first ``limit + 10`` hits, more only if too many collapsed.
    ``near_duplicates`` finds the close pairs (id_low, id_high); each backend has its own.
    """
    find_pairs = near_duplicates
    window = limit + 10
    while True:
        head = list(hits[:window])
        duplicates = find_pairs(conn, [hit.insight_id for hit in head])
        kept: list[SearchHit] = []
        for hit in head:
            if not any(
                (min(hit.insight_id, k.insight_id), max(hit.insight_id, k.insight_id)) in duplicates
                for k in kept
            ):
                kept.append(hit)
                if len(kept) == limit:
                    return kept
        if window >= len(hits):
            return kept
        window *= 2


def fuse(keyword_ids: Sequence[int], vector_ids: Sequence[int], rrf_k: int = 60) -> list[SearchHit]:
    """Reciprocal rank fusion: score = sum of 1 / (rrf_k + rank) over the lists, best first."""
    hits: dict[int, SearchHit] = {}
    for rank, insight_id in enumerate(dict.fromkeys(keyword_ids), start=1):
        hits[insight_id] = SearchHit(insight_id, 1.0 / (rrf_k + rank), rank, None)
    for rank, insight_id in enumerate(dict.fromkeys(vector_ids), start=1):
        hit = hits.setdefault(insight_id, SearchHit(insight_id, 0.0, None, None))
        hit.score += 1.0 / (rrf_k + rank)
        hit.vector_rank = rank
    big = len(hits) + 1

    def order(hit: SearchHit) -> tuple[float, int, int]:
        best = min(hit.keyword_rank or big, hit.vector_rank or big)
        return (-hit.score, best, hit.insight_id)

    return sorted(hits.values(), key=order)


def index_is_current(conn: Connection, embedder: Embedder, layout_version: str) -> bool:
    """Whether the index was built for this embedder (and its dimension, when that is
    known without a provider call) in this layout: then it needs no rebuild."""
    name, dim, layout = (get_meta(conn, k) for k in ("embedder", "embedding_dim", "vec_layout"))
    known = dim_without_network(embedder)
    return (name, layout) == (embedder.name, layout_version) and (
        known is None or str(known) == dim
    )


def record_layout(conn: Connection, embedder: Embedder, layout_version: str) -> int:
    """Before a rebuild: log what the index was built for, record what it is built for now
    (embedder, dimension, layout) and return the new dimension."""
    name, dim, layout = (get_meta(conn, k) for k in ("embedder", "embedding_dim", "vec_layout"))
    new_dim = embedder.dim
    if name is not None:
        log.info(
            "index built for %s/%s/%s, now %s/%s/%s: re-embedding insights",
            name,
            dim,
            layout,
            embedder.name,
            new_dim,
            layout_version,
        )
    set_meta(conn, "embedder", embedder.name)
    set_meta(conn, "embedding_dim", str(new_dim))
    set_meta(conn, "vec_layout", layout_version)
    return new_dim


def dim_without_network(embedder: Embedder) -> int | None:
    """The embedder's dimension if knowing it costs no provider call, else None."""
    if isinstance(embedder, LiteLLMEmbedder):
        return embedder.known_dim
    return embedder.dim


def index_dim(conn: Connection) -> int:
    """The dimension the index was built for; raises if ensure_index never ran."""
    dim = get_meta(conn, "embedding_dim")
    if dim is None:
        raise RuntimeError("the search index does not exist yet: call ensure_index first")
    return int(dim)


def embed_insights(
    conn: Connection,
    embedder: Embedder,
    where: str,
    file: Filer,
) -> int:
    """Embed and file every insight matching ``where`` (SQL over alias ``w``), in batches.

    Callers guarantee these insights have no rows in the vector tables yet; ``file``
    writes the vectors into the backend's tables.
    """
    done, last = 0, 0
    while True:
        rows = conn.execute(
            text(
                "SELECT w.id, w.repository, w.language, w.summary, w.detail "
                f"FROM workflow_insights w WHERE w.id > :last AND ({where}) "
                "ORDER BY w.id LIMIT :n"
            ),
            {"last": last, "n": _REEMBED_BATCH},
        ).all()
        if not rows:
            return done
        vectors = embedder.embed([insight_text(r.summary, r.detail or "") for r in rows])
        file(
            conn,
            [
                (r.id, r.repository or "", r.language or "", v)
                for r, v in zip(rows, vectors, strict=True)
            ],
        )
        conn.execute(
            text("UPDATE workflow_insights SET embedder = :e WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"e": embedder.name, "ids": [r.id for r in rows]},
        )
        done += len(rows)
        last = rows[-1].id

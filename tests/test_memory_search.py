"""Embedders, the FTS5 + sqlite-vec index and hybrid search, on a real SQLite file.

Every test goes through the public path others use: ``create_db_engine`` + ``migrate`` +
``ensure_index``, rows written with the ORM, vectors filed with ``index_insight``; writes
in ``writer(engine)`` transactions (BEGIN IMMEDIATE), searches in plain (deferred) ones.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from kaizen.core.embed import (
    Embedder,
    HashingEmbedder,
    LiteLLMEmbedder,
    insight_text,
    make_embedder,
)
from kaizen.memory.db import create_db_engine, writer
from kaizen.memory.migrate import migrate
from kaizen.memory.schema import WorkflowInsight
from kaizen.memory.search import (
    SearchHit,
    ensure_index,
    exact_knn,
    fuse,
    hybrid_search,
    index_insight,
    keyword_search,
    remove_insight,
    vector_search,
)
from tests.fixtures.scripted_model import ScriptedModel

REPO = "github.com/acme/widgets"
OTHER = "github.com/acme/gadgets"
EMBEDDER = HashingEmbedder()
HOSTILE = ['"; DROP TABLE workflow_insights; --', "NEAR(", "*", "", "   ", '"', "a OR", "-x",
           "summary:foo", "AND NOT", "^start", "x NEAR/3 y", "(((", "'", "\x00", "🙂"]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def open_db(path: Path, embedder: Embedder = EMBEDDER) -> Engine:
    engine = create_db_engine(path)
    migrate(engine)
    with writer(engine).begin() as conn:
        ensure_index(conn, embedder)
    return engine


def add(
    engine: Engine,
    summary: str,
    *,
    detail: str = "",
    repository: str = REPO,
    language: str = "python",
    category: str = "bug",
    embedder: Embedder | None = EMBEDDER,
) -> int:
    """One insight through the ORM; filed in the vector index unless ``embedder`` is None."""
    with writer(engine).begin() as conn:
        session = Session(bind=conn)
        row = WorkflowInsight(
            repository=repository,
            language=language,
            kind="lesson",
            category=category,
            summary=summary,
            detail=detail,
            content_hash=hashlib.sha256(f"{repository}|{summary}|{detail}".encode()).hexdigest(),
            embedder=embedder.name if embedder else "",
        )
        session.add(row)
        session.flush()
        if embedder is not None:
            [vector] = embedder.embed([insight_text(summary, detail)])
            index_insight(conn, row.id, repository, language, vector)
        return row.id


def search(
    engine: Engine,
    query: str,
    *,
    repository: str | None = REPO,
    language: str | None = "python",
    limit: int = 10,
    embedder: Embedder = EMBEDDER,
) -> list[SearchHit]:
    with engine.connect() as conn:
        [vector] = embedder.embed([query])
        return hybrid_search(
            conn, query=query, vector=vector, repository=repository, language=language,
            limit=limit,
        )


def ids(hits: Sequence[SearchHit]) -> list[int]:
    return [hit.insight_id for hit in hits]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_db(tmp_path / "kaizen.db")


# The embedders -----------------------------------------------------------------------------


def test_hashing_embedder_scores_shared_vocabulary_higher() -> None:
    a, b, c, d = EMBEDDER.embed([
        "Avoid mutable default arguments in parse_config; use None instead.",
        "parseConfig has a mutable default argument: replace the list default with None.",
        "The SQL query in UserRepository.fetchAll is open to injection.",
        "Prefer pathlib over os.path when the loader builds file names.",
    ])
    related = cosine(a, b)
    assert related > 0.45
    for unrelated in (cosine(a, c), cosine(a, d), cosine(b, c), cosine(c, d)):
        assert unrelated < 0.2
        assert related - unrelated > 0.3
    # snake_case and camelCase spellings of one identifier meet through their sub-tokens.
    snake, camel, other = EMBEDDER.embed(["load_user_profile", "loadUserProfile", "flushQueue"])
    assert cosine(snake, camel) > 0.5 > cosine(snake, other) + 0.3


def test_hashing_embedder_is_unit_length_and_stable_across_processes() -> None:
    texts = ["Use `is None` for None checks in HTTPServer.handle_request", ""]
    here = EMBEDDER.embed(texts)
    assert EMBEDDER.name == "kaizen-hash-v1-384" and EMBEDDER.dim == 384
    assert abs(cosine(here[0], here[0]) - 1.0) < 1e-9
    assert not any(here[1])  # no words, no direction
    code = (
        "import json, sys; from kaizen.core.embed import HashingEmbedder; "
        "print(json.dumps(HashingEmbedder().embed(json.loads(sys.argv[1]))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(texts)],
        capture_output=True, text=True, check=True, env=env,
    ).stdout
    assert json.loads(out) == here  # JSON round-trips floats exactly


def test_make_embedder_picks_the_provider_only_when_a_model_is_set() -> None:
    assert isinstance(make_embedder(None), HashingEmbedder)
    assert isinstance(make_embedder(""), HashingEmbedder)
    provider = make_embedder("openai/text-embedding-3-small", api_base="http://127.0.0.1:9")
    assert isinstance(provider, LiteLLMEmbedder)
    assert provider.name == "litellm:openai/text-embedding-3-small"  # no call made yet


def test_litellm_embedder_through_a_real_http_server(
    scripted: ScriptedModel, tmp_path: Path
) -> None:
    def provider() -> LiteLLMEmbedder:
        return LiteLLMEmbedder("openai/scripted-embed", api_base=scripted.url, api_key="sk-x")

    embedder = provider()
    vectors = embedder.embed(["mutable default argument", "sql injection in fetchAll"])
    assert embedder.dim == 64 and len(vectors) == 2
    assert all(abs(cosine(v, v) - 1.0) < 1e-9 for v in vectors)
    assert scripted.requests_for("embedding")[0]["body"]["input"] == [
        "mutable default argument", "sql injection in fetchAll",
    ]
    assert embedder.embed([]) == []
    # Switch a hashing-embedder index to the provider, then restart: no call at start-up.
    engine = open_db(tmp_path / "kaizen.db")
    insight = add(engine, "sql injection in fetchAll")
    with writer(engine).begin() as conn:
        ensure_index(conn, embedder)
    calls = len(scripted.requests_for("embedding"))
    with writer(engine).begin() as conn:
        ensure_index(conn, provider())
    assert len(scripted.requests_for("embedding")) == calls
    assert ids(search(engine, "sql injection in fetchAll", embedder=embedder)) == [insight]


# Search ------------------------------------------------------------------------------------


def test_keyword_side_finds_exact_identifiers(engine: Engine) -> None:
    target = add(engine, "The SQL query in UserRepository.fetchAll is open to injection.")
    add(engine, "Avoid mutable default arguments in parse_config.")
    add(engine, "Prefer pathlib over os.path in the loader.")
    hits = search(engine, "fetchAll")
    assert hits[0].insight_id == target
    assert hits[0].keyword_rank == 1 and hits[0].vector_rank is not None
    with engine.connect() as conn:
        assert keyword_search(conn, "fetchall injection", REPO, "python", 5) == [target]


def test_vector_side_finds_other_wordings(engine: Engine) -> None:
    target = add(engine, "parse_config mutates a mutable default argument.")
    add(engine, "The SQL query in UserRepository.fetchAll is open to injection.")
    add(engine, "Prefer pathlib over os.path in the loader.")
    # No query token is an FTS token of the target ("parseconfig" vs "parse" + "config").
    hits = search(engine, "parseConfig defaults")
    assert hits[0].insight_id == target
    assert hits[0].keyword_rank is None and hits[0].vector_rank == 1


def test_fusion_puts_agreement_first(engine: Engine) -> None:
    both = add(engine, "Close the socket returned by open_socket in a with statement.")
    words = add(engine, "socket timeouts: tune the retry loop and backoff.")
    add(engine, "Close files returned by open_file in a with statement.")
    hits = search(engine, "close socket with statement")
    assert hits[0].insight_id == both
    assert hits[0].keyword_rank is not None and hits[0].vector_rank is not None
    assert words in ids(hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(ids(hits)) == len(set(ids(hits)))
    # The arithmetic: 1/(k + rank) summed over the lists that returned the id.
    fused = fuse([1, 2, 3], [3, 4], rrf_k=60)
    assert ids(fused) == [3, 1, 2, 4]  # 2 and 4 tie on 1/62: the lower id first
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert (fused[0].keyword_rank, fused[0].vector_rank) == (3, 1)
    assert (fused[3].keyword_rank, fused[3].vector_rank) == (None, 2)


def test_repository_and_language_filters(engine: Engine) -> None:
    summary = "Race in {}: check then create without a lock; use an atomic insert."
    mine = add(engine, summary.format("create_widget"))
    other_repo = add(engine, summary.format("create_gadget"), repository=OTHER)
    other_lang = add(engine, summary.format("createWidgetTs"), language="typescript")
    query = "race check then create without lock"
    assert ids(search(engine, query)) == [mine]
    assert ids(search(engine, query, repository=OTHER)) == [other_repo]
    assert ids(search(engine, query, language="typescript")) == [other_lang]
    assert set(ids(search(engine, query, language=None))) == {mine, other_lang}
    assert set(ids(search(engine, query, repository=None, language=None))) == {
        mine, other_repo, other_lang,
    }
    assert ids(search(engine, query, repository="github.com/nobody/else")) == []
    [vector] = EMBEDDER.embed([query])
    with engine.connect() as conn:
        assert [i for i, _ in exact_knn(conn, vector, OTHER, 5)] == [other_repo]
        assert {i for i, _ in vector_search(conn, vector, None, "python", 5)} == {
            mine, other_repo,
        }


def test_near_duplicates_collapse_to_the_better_hit(engine: Engine) -> None:
    first = add(engine, "Use `is None` instead of == None in parse_config.")
    second = add(engine, "Use is None instead of == None in parse_config!", detail="")
    similar = add(engine, "Use `is None` instead of == None in load_config.")
    vectors = EMBEDDER.embed([
        "Use `is None` instead of == None in parse_config.",
        "Use is None instead of == None in parse_config!",
        "Use `is None` instead of == None in load_config.",
    ])
    assert cosine(vectors[0], vectors[1]) >= 0.97 > cosine(vectors[0], vectors[2])
    hits = search(engine, "is None instead of == None parse_config")
    assert ids(hits)[0] in (first, second)
    assert len({first, second} & set(ids(hits))) == 1  # one of the twins, the better one
    assert similar in ids(hits)


def test_fts_and_vectors_follow_updates_and_deletes(engine: Engine) -> None:
    target = add(engine, "Flush the write buffer before closing the stream.")
    keep = add(engine, "Bound the retries of fetch_token and back off.")
    with writer(engine).begin() as conn:
        session = Session(bind=conn)
        row = session.get(WorkflowInsight, target)
        assert row is not None
        row.summary = "Encode payloads as UTF-8 before hashing."
        row.occurrences = WorkflowInsight.occurrences + 1
        session.flush()
    with engine.connect() as conn:
        assert keyword_search(conn, "flush buffer", REPO, "python", 5) == []
        assert keyword_search(conn, "utf payloads hashing", REPO, "python", 5) == [target]
    with writer(engine).begin() as conn:
        session = Session(bind=conn)
        session.delete(session.get(WorkflowInsight, target))
        session.flush()
    hits = search(engine, "Encode payloads as UTF-8 before hashing")
    assert ids(hits) == [keep]  # gone from both sides: FTS by trigger, float row by trigger
    with writer(engine).begin() as conn:
        ensure_index(conn, EMBEDDER)  # sweeps the vec0 rows the trigger could not touch
        assert conn.execute(text("SELECT count(*) FROM insights_vec")).scalar() == 1
        remove_insight(conn, keep)
    assert ids(search(engine, "retries fetch_token")) == [keep]  # keywords only now
    assert search(engine, "retries fetch_token")[0].vector_rank is None


def test_switching_embedder_reembeds_every_insight(tmp_path: Path) -> None:
    engine = open_db(tmp_path / "kaizen.db")
    texts = [
        "Avoid mutable default arguments in parse_config.",
        "The SQL query in UserRepository.fetchAll is open to injection.",
        "Prefer pathlib over os.path in the loader.",
    ]
    inserted = [add(engine, t) for t in texts]
    small = HashingEmbedder(dim=64)
    with writer(engine).begin() as conn:
        ensure_index(conn, small)
    with engine.connect() as conn:
        meta = dict(conn.execute(text("SELECT key, value FROM meta")).all())
        assert (meta["embedder"], meta["embedding_dim"]) == ("kaizen-hash-v1-64", "64")
        lengths = conn.execute(
            text("SELECT length(embedding) FROM insights_vec_float ORDER BY insight_id")
        ).scalars().all()
        assert lengths == [64 * 4] * 3
        names = conn.execute(text("SELECT DISTINCT embedder FROM workflow_insights")).all()
        assert names == [("kaizen-hash-v1-64",)]
        [vector] = small.embed([texts[1]])
        assert vector_search(conn, vector, REPO, "python", 1)[0][0] == inserted[1]
        with pytest.raises(ValueError, match="dimension"):
            vector_search(conn, EMBEDDER.embed(["x"])[0], REPO, "python", 1)
    assert ids(search(engine, "fetchAll injection", embedder=small))[0] == inserted[1]
    # Idempotent: the same embedder again re-embeds nothing.
    counting = CountingEmbedder(64)
    with writer(engine).begin() as conn:
        ensure_index(conn, counting)
    assert counting.texts == 0


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, counting the texts it was asked for."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += len(texts)
        return super().embed(texts)


def test_ensure_index_backfills_insights_written_without_a_vector(tmp_path: Path) -> None:
    engine = open_db(tmp_path / "kaizen.db")
    orphan = add(engine, "Secrets from token_map reach the log line.", embedder=None)
    with engine.connect() as conn:
        assert vector_search(conn, EMBEDDER.embed(["secrets log"])[0], REPO, None, 5) == []
    counting = CountingEmbedder(384)
    with writer(engine).begin() as conn:
        ensure_index(conn, counting)
    assert counting.texts == 1
    with engine.connect() as conn:
        hits = vector_search(conn, EMBEDDER.embed(["secrets log"])[0], REPO, None, 5)
    assert [i for i, _ in hits] == [orphan]


def test_index_insight_rejects_a_vector_of_the_wrong_dimension(engine: Engine) -> None:
    insight = add(engine, "x", embedder=None)
    with writer(engine).begin() as conn, pytest.raises(ValueError, match="dimension"):
        index_insight(conn, insight, REPO, "python", [1.0] * 10)


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_do_not_raise(engine: Engine, query: str) -> None:
    add(engine, "The SQL query in UserRepository.fetchAll is open to injection.")
    search(engine, query)
    search(engine, query, repository=None, language=None, limit=1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM workflow_insights")).scalar() == 1


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = open_db(tmp_path_factory.mktemp("hyp") / "kaizen.db")
    add(engine, 'Quote "marks" and NEAR(a b) and * stars in a summary: col:umn ^caret')
    return engine


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=st.text(max_size=40))
def test_any_text_is_a_safe_keyword_query(shared_engine: Engine, query: str) -> None:
    with shared_engine.connect() as conn:
        keyword_search(conn, query, None, None, 5)


def test_vector_side_recall_against_exact_search(tmp_path: Path) -> None:
    """Large enough (1500 rows, ~94 sampled) for the sample-bounded scan to be taken."""
    engine = open_db(tmp_path / "kaizen.db")
    rng = random.Random(3)
    words = ["parse", "load", "flush", "cache", "config", "user", "session", "token", "buffer",
             "retry", "lock", "queue", "socket", "schema", "widget", "handler", "stream"]

    def sentence() -> str:
        return " ".join(rng.choice(words) + rng.choice(["", "_", "Id", "s"]) for _ in range(7))

    texts = [sentence() for _ in range(1500)]
    vectors = EMBEDDER.embed(texts)
    with writer(engine).begin() as conn:
        conn.execute(
            text("INSERT INTO workflow_insights (id, repository, language, kind, category, "
                 "summary, detail, content_hash, occurrences, recorded_by, embedder, "
                 "created_at, updated_at) VALUES (:id, :r, 'python', 'lesson', '', :s, '', "
                 ":h, 1, '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            [{"id": i, "r": REPO, "s": t, "h": str(i)} for i, t in enumerate(texts, 1)],
        )
        for i, vector in enumerate(vectors, 1):
            index_insight(conn, i, REPO, "python", vector)
    recalls = []
    with engine.connect() as conn:
        for query in EMBEDDER.embed([sentence() for _ in range(10)]):
            exact = exact_knn(conn, query, REPO, 10)
            approx = vector_search(conn, query, REPO, "python", 10)
            bound = exact[-1][1] + 1e-6
            wanted = {i for i, _ in exact}
            recalls.append(sum(1 for i, d in approx if i in wanted or d <= bound) / 10)
            assert [d for _, d in approx] == sorted(d for _, d in approx)
    assert sum(recalls) / len(recalls) >= 0.95


def _writer(path: str, worker: int, count: int) -> None:
    engine = create_db_engine(path)
    for n in range(count):
        add(engine, f"worker {worker} lesson {n}: close_stream{n} in writer{worker}")
    engine.dispose()


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.db"
    open_db(path).dispose()
    # fork where there is one (fast; the parent holds no open connection), else spawn.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = [context.Process(target=_writer, args=(str(path), w, 25)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    engine = create_db_engine(path)
    with engine.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("workflow_insights", "insights_vec_float", "insights_vec")
        ]
        assert counts == [50, 50, 50]
        # FTS5 raises here if its index disagrees with the content table.
        conn.execute(text("INSERT INTO insights_fts(insights_fts) VALUES ('integrity-check')"))
    assert ids(search(engine, "close_stream7 writer1", limit=1)) != []

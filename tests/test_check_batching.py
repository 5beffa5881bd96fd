"""What ``kaizen check`` does once per run instead of once per file or per call gives the same
answers as the per-file way: git's ignore answers asked in one process, the learnings search
skipped when nothing could be found, a successful call recorded in one transaction, and the
hashing embedder's faster counting (the exact vectors of counting word by word)."""

from __future__ import annotations

import math
import os
import subprocess
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import event

from kaizen.core import embed
from kaizen.core.embed import HashingEmbedder
from kaizen.improvement import performance
from kaizen.improvement.events import record_call_and_attempt
from kaizen.memory import insights
from kaizen.memory.learnings import retrieve
from kaizen.memory.search import ensure_index
from kaizen.memory.store import Store
from kaizen.models.gateway import CallOutcome, ModelTarget
from kaizen.security.ignore import prime_git_ignored, why_not_sent


def _git_repo(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("build/\n*.log.py\n", encoding="utf-8")
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "sub" / ".gitignore").write_text("local_*.py\n", encoding="utf-8")
    (root / "build").mkdir()
    for rel in (
        "pkg/a.py",
        "pkg/trace.log.py",
        "pkg/sub/local_x.py",
        "pkg/sub/kept.py",
        "build/gen.py",
        "name with space.py",
    ):
        (root / rel).write_text("x = 1\n", encoding="utf-8")


def test_one_git_process_answers_as_each_file_asked_alone(tmp_path: Path, monkeypatch):
    alone, batched = tmp_path / "alone", tmp_path / "batched"
    for root in (alone, batched):
        root.mkdir()
        _git_repo(root)
    files = sorted(p.relative_to(alone) for p in alone.rglob("*.py"))
    expected = {rel: why_not_sent(alone / rel, alone) for rel in files}
    assert expected[Path("build/gen.py")] == "ignored by git"
    assert expected[Path("pkg/sub/local_x.py")] == "ignored by git"  # a nested .gitignore
    assert expected[Path("pkg/a.py")] is None

    prime_git_ignored(batched, [batched / rel for rel in files])
    # without git on the PATH a file asked alone would read as not ignored: the answers
    # below come from the one process that ran before
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert {rel: why_not_sent(batched / rel, batched) for rel in files} == expected


def test_a_file_not_in_the_batch_is_still_asked_alone(tmp_path: Path):
    _git_repo(tmp_path)
    prime_git_ignored(tmp_path, [tmp_path / "pkg" / "a.py"])
    assert why_not_sent(tmp_path / "build" / "gen.py", tmp_path) == "ignored by git"


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def embed(self, texts):
        self.texts += len(texts)
        return super().embed(texts)


def _insight(kind: str, language: str, summary: str) -> insights.InsightInput:
    return insights.InsightInput(
        kind=kind,
        repository="repo",
        language=language,
        category="bug",
        summary=summary,
        detail="with open(path) as handle: data = handle.read()",
    )


def test_learnings_search_costs_no_embedding_when_nothing_could_be_found(tmp_path: Path):
    store = Store.open(tmp_path / "kaizen.db")
    embedder = CountingEmbedder()
    with store.write_engine.begin() as conn:
        ensure_index(conn, embedder)
    args = dict(query="data = open(path).read()", task="issue_detector", repository="repo")

    def search(language: str = "python"):
        return retrieve(
            store.engine, embedder, **args, language=language, limit=5, token_budget=400
        )

    try:
        assert search().block == "" and embedder.texts == 0  # an empty memory
        # insights the detector's search would drop (another language, a kind it skips)
        other_language = _insight("issue_found", "go", "close the file in Go with defer")
        other_kind = _insight("fix_proposed", "python", "a fix that wraps open in with")
        insights.record(store.engine, embedder, [other_language, other_kind], "me")
        embedder.texts = 0
        assert search().block == "" and embedder.texts == 0
        wanted = _insight("finding_rejected", "python", "files closed by a context manager")
        insights.record(store.engine, embedder, [wanted], "me")
        embedder.texts = 0
        found = search()
        assert found.block.count("\n- ") == 1 and "context manager" in found.block
        assert embedder.texts == 1
        assert search("go").block  # the Go insight is found for Go code
    finally:
        store.close()


def test_a_successful_call_is_recorded_in_one_transaction(tmp_path: Path):
    store = Store.open(tmp_path / "kaizen.db")
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    target = ModelTarget("openai/model-a")
    try:
        ok = CallOutcome("issue_detector", target, "ok", latency_ms=10.0, cost_usd=0.002)
        record_call_and_attempt(store, None, ok)
        assert len(commits) == 1
        failed = CallOutcome("issue_detector", target, "error", error="boom", latency_ms=5.0)
        record_call_and_attempt(store, None, failed)
        [row] = performance.rows(store, "issue_detector")
        assert (row["calls"], row["successes"], row["errors"]) == (2, 1, 1)
        with store.session() as s:
            from kaizen.memory.schema import ModelCall

            assert sorted(c.status for c in s.query(ModelCall)) == ["error", "ok"]
    finally:
        store.close()


def _features_word_by_word(text: str) -> dict[str, float]:
    """The embedder's features counted occurrence by occurrence (its definition)."""
    counts: dict[str, int] = {}
    for match in embed._WORD.finditer(unicodedata.normalize("NFKC", text)):
        raw = match.group().strip("_")
        word = raw.lower()
        if not word or word in embed.STOPWORDS:
            continue
        counts["w:" + word] = counts.get("w:" + word, 0) + 1
        parts = [p.lower() for chunk in raw.split("_") for p in embed._CAMEL.findall(chunk)]
        if len(parts) > 1:
            for part in parts:
                if part not in embed.STOPWORDS:
                    counts["s:" + part] = counts.get("s:" + part, 0) + 1
        padded = f"<{word}>"
        for i in range(len(padded) - embed._NGRAM + 1):
            gram = "c:" + padded[i : i + embed._NGRAM]
            counts[gram] = counts.get(gram, 0) + 1
    return {f: embed._WEIGHTS[f[0]] * (1.0 + math.log(n)) for f, n in counts.items()}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "___ __init__ _",
        "Foo foo FOO _foo_ fooBar foo_bar HTTPServer parseConfig x1 2x aaaa aaaa_aaaa",
        "caf\u00e9 \uff46\uff55\uff4c\uff4c-width \uff37ord naïve Stra\u00dfe",
        Path(embed.__file__).read_text(encoding="utf-8"),
        Path(os.__file__).read_text(encoding="utf-8")[:20_000],
    ],
)
def test_the_embedder_gives_the_vectors_of_counting_word_by_word(text: str):
    reference = _features_word_by_word(text)
    assert list(embed.features(text).items()) == list(reference.items())  # order too
    vector = [0.0] * 384
    for feature, weight in reference.items():
        slot, sign = embed._slot(feature, 384)
        vector[slot] += sign * weight
    assert HashingEmbedder().embed_one(text) == embed.normalise(vector)  # bit for bit


def test_recording_an_insight_again_embeds_nothing_and_counts_it(tmp_path: Path):
    """A save records every finding it shows again; only an insight not stored yet needs
    an embedding (it was computed for every item of every save)."""
    store = Store.open(tmp_path / "kaizen.db")
    embedder = CountingEmbedder()
    with store.write_engine.begin() as conn:
        ensure_index(conn, embedder)
    try:
        seen = _insight("issue_found", "python", "the file is never closed")
        first = insights.record(store.engine, embedder, [seen], "me")
        assert embedder.texts == 1
        new = _insight("issue_found", "python", "the lock is never released")
        again = insights.record(store.engine, embedder, [seen, new], "me")
        assert embedder.texts == 2 and again[0] == first[0]  # only the new one embedded
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "select summary, occurrences from workflow_insights order by id"
            ).all()
        assert [tuple(r) for r in rows] == [
            ("the file is never closed", 2),
            ("the lock is never released", 1),
        ]
        found = retrieve(
            store.engine, embedder, query="the lock is never released", task="issue_detector",
            repository="repo", language="python", limit=5, token_budget=400,
        )
        assert "lock is never released" in found.block  # indexed with its vector
    finally:
        store.close()

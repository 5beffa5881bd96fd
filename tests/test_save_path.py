"""What a save waits for: the detector's learnings search starts from the instant view's
plan, and a save's insight recording (which competes with the next save) is one statement
for the insights already stored.

The real run frame (Services, run_pipeline, SQLite, the scripted model over HTTP); the
timings themselves are measured by benchmarks/bench_lsp.py and bench_soak.py, not here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kaizen.app.services import Services
from kaizen.config import load_settings
from kaizen.core.document import Document
from kaizen.memory.store import Store
from kaizen.pipelines import registry
from tests.fixtures.scripted_model import ScriptedModel

SOURCE = "def mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef first(xs):\n    return xs[0]\n"
ISSUE = {"line": 2, "severity": "warning", "category": "bug",
         "message": "mean fails on an empty list", "snippet": "return sum(xs) / len(xs)"}


def services_for(scripted: ScriptedModel, project: Path, home: Path) -> Services:
    options = {"autofix": {"provider": "openai", "model": "scripted", "apiBase": scripted.url,
                           "apiKey": "sk-test"},
               "staticPrepass": {"enabled": False}, "localModel": False,
               "review": {"minConfidence": 0},
               "databasePath": str(home / "k.db")}
    settings, problems = load_settings(project, options)
    assert problems == []
    services = Services(settings)
    services.open_store()
    assert services.store is not None and services.loop is not None
    return services


async def test_the_learnings_search_starts_with_the_instant_view(scripted, project, kaizen_home):
    """A second snapshot's instant view starts the detector's learnings search for the
    units the run will send; the run takes that search (the same insights reach the
    prompt) instead of searching again."""
    scripted.set_default("fix_generator", {"fixes": []})
    path = project / "stats.py"
    path.write_text(SOURCE)
    services = services_for(scripted, project, kaizen_home)
    assert services.store is not None
    try:
        first = Document(uri=path.as_uri(), path=path, text=SOURCE, version=1)
        scripted.enqueue("issue_detector", {"issues": [ISSUE]})
        await registry.run("autofix", first, services.context())  # insights recorded after
        edited = SOURCE.replace("return xs[0]", "return xs[0] if xs else None")
        second = Document(uri=path.as_uri(), path=path, text=edited, version=2)
        assert await services.instant(second, "autofix") != []  # mean's finding, cached
        learned = services._snapshots[second.uri].learned
        [((task, query), search)] = learned.items()
        assert task == "issue_detector" and "return xs[0] if xs else None" in query
        assert "sum(xs)" not in query  # mean is unchanged: from the cache, not sent
        ahead = await search
        assert ahead.insight_ids and "mean fails on an empty list" in ahead.block
        scripted.enqueue("issue_detector", {"issues": []})
        result = await registry.run("autofix", second, services.context())
        assert learned == {}  # taken by the run
        assert result.insight_ids == ahead.insight_ids
        [_, prompt] = scripted.prompts_for("issue_detector")
        assert "mean fails on an empty list" in prompt and "Historical learnings" in prompt
        # a snapshot the instant view did not see searches for itself
        third = Document(uri=path.as_uri(), path=path, text=edited + "\n", version=3)
        assert (await services.learnings(third, "issue_detector", query)).insight_ids
    finally:
        services.store.close()


def test_a_save_records_its_shown_findings_again_as_occurrences(tmp_path):
    """Recording insights already stored counts one more occurrence of each (in one
    statement), keeps their ids, and inserts and indexes only the new ones."""
    from kaizen.core.embed import HashingEmbedder
    from kaizen.memory import insights
    from kaizen.memory.search import ensure_index, hybrid_search

    store = Store.open(tmp_path / "k.db")
    embedder = HashingEmbedder()
    try:
        with store.write_engine.begin() as conn:
            ensure_index(conn, embedder)

        def item(n: int) -> insights.InsightInput:
            return insights.InsightInput(kind="issue_found", category="bug",
                                         summary=f"[bug] handler_{n} may divide by zero",
                                         detail=f"return total / count_{n}", repository="r",
                                         language="python", run_id=n)

        first = insights.record(store.engine, embedder, [item(0), item(1)])
        again = insights.record(store.engine, embedder, [item(1), item(2), item(0), item(1)])
        assert again[0] == again[3] == first[1] and again[2] == first[0]
        assert again[1] not in first
        db = sqlite3.connect(tmp_path / "k.db")
        try:
            counts = dict(db.execute("select id, occurrences from workflow_insights"))
            runs = dict(db.execute("select id, source_run_id from workflow_insights"))
        finally:
            db.close()
        assert counts == {first[0]: 2, first[1]: 3, again[1]: 1}
        assert runs[first[0]] == 0 and runs[first[1]] == 1 and runs[again[1]] == 2
        with store.engine.connect() as conn:
            [vector] = embedder.embed(["handler_2 may divide by zero"])
            hits = hybrid_search(conn, query="handler_2 divide", vector=vector,
                                 repository="r", language="python", limit=3)
        assert again[1] in [h.insight_id for h in hits]  # the new one is indexed
    finally:
        store.close()

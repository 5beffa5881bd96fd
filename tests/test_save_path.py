"""What a save waits for: the run's findings go on screen before its record is written, and
the detector's learnings search starts from the instant view's plan.

The real run frame (Services, run_pipeline, SQLite, the scripted model over HTTP); the
timings themselves are measured by benchmarks/bench_lsp.py and bench_soak.py, not here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lsprotocol import types

from kaizen.app.services import Services
from kaizen.config import load_settings
from kaizen.core.document import Document
from kaizen.core.findings import Finding
from kaizen.memory.store import Store
from kaizen.pipelines import registry
from tests.conftest import model_options, open_document, wait_for_diagnostics
from tests.fixtures.editing import edit_and_save
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


async def test_the_findings_are_shown_before_the_run_is_recorded(scripted, project, kaizen_home):
    """``on_final`` hears the run's final findings while the run's row is still open; the
    record (status, findings) follows, with the same findings."""
    scripted.set_default("issue_detector", {"issues": [ISSUE]})
    scripted.set_default("fix_generator", {"fixes": []})
    path = project / "stats.py"
    path.write_text(SOURCE)
    doc = Document(uri=path.as_uri(), path=path, text=SOURCE, version=1)
    services = services_for(scripted, project, kaizen_home)
    store = services.store
    assert store is not None
    seen: list[tuple[list[Finding], str, int]] = []
    try:
        ctx = services.context(shown=True)

        def on_final(findings: list[Finding]) -> None:
            [run] = store.recent_runs(1)
            seen.append((list(findings), run.status, run.findings_count))

        ctx.on_final = on_final
        result = await registry.run("autofix", doc, ctx)
        [(findings, status, count)] = seen
        assert [f.message for f in findings] == ["mean fails on an empty list"]
        assert status not in ("succeeded", "failed") and count == 0  # not recorded yet
        assert findings == result.findings
        [run] = store.recent_runs(1)
        assert run.status == "succeeded" and run.findings_count == 1
        assert store.finding(doc.repository, findings[0].fingerprint) is not None
    finally:
        store.close()


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


def flag_marked(body: dict) -> dict:
    """Flags every numbered line of the prompt marked ``# edit N``."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    issues = []
    for line in prompt.splitlines():
        head, _, code = line.partition(" | ")
        if "# edit " in code and head.strip().isdigit():
            issues.append({"line": int(head), "severity": "warning", "category": "bug",
                           "message": code.split("# ", 1)[1].strip(), "snippet": code.strip()})
    return {"issues": issues}


async def test_a_save_right_after_a_publish_keeps_the_last_run_and_its_cache(
        start_client, scripted, project, kaizen_home):
    """Saves that follow each publish at once (the run's record still being written): no
    run is cancelled by the next save, and each save sends only the function it edited (the
    previous run's units are cached before the next plan reads the cache)."""
    scripted.set_default("issue_detector", flag_marked)
    scripted.set_default("fix_generator", {"fixes": []})
    text = "".join(f"def f{n}(xs):\n    total = {n}\n    return total + len(xs)\n\n\n"
                   for n in range(6))
    client = await start_client(model_options(scripted, review={"minConfidence": 0}))
    uri = open_document(client, project / "many.py", text)
    await wait_for_diagnostics(client, uri, lambda d: d == [])
    for i in range(5):
        text = text.replace(f"    total = {i}\n", f"    total = {i}  # edit {i}\n", 1)
        edit_and_save(client, uri, i + 2, text)
        await wait_for_diagnostics(  # the next save follows the publish at once
            client, uri, lambda d, i=i: any(x.message.startswith(f"edit {i}") for x in d), final=False)
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="kaizen.getStatus", arguments=[{"waitForLearning": True}]))
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    try:
        statuses = [s for (s,) in db.execute("select status from runs order by id")]
    finally:
        db.close()
    assert statuses == ["succeeded"] * 6
    prompts = scripted.prompts_for("issue_detector")[1:]  # after the first, whole-file review
    sent = [[x["message"] for x in flag_marked({"messages": [{"content": p}]})["issues"]]
            for p in prompts]
    assert sent == [[f"edit {i}"] for i in range(5)]


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

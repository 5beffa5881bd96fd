"""The review engine: instant static results, review by unit, the unit cache, context packs.

The real server under pytest-lsp, the real litellm against the scripted model server, which
records every request: what each prompt held is checked from the requests themselves.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from kaizen.languages.context_pack import build_pack, module_facts
from kaizen.languages.units import split_units, unit_hash
from tests.conftest import model_options, open_document, wait_for_diagnostics
from tests.fixtures.editing import edit_and_save

THREE = '''import os


def first(a):
    return a + 1


def second(b):
    return b * 2


class Cart:
    rate = 3

    def total(self, items):
        return sum(items) * self.rate
'''


def issue(line: int, message: str, snippet: str) -> dict:
    return {
        "line": line,
        "severity": "warning",
        "category": "bug",
        "message": message,
        "rationale": "scripted",
        "snippet": snippet,
    }


def numbered_lines_of(prompt: str) -> set[int]:
    """The document line numbers the prompt's code section shows."""
    code = prompt.split("Code:\n```python\n", 1)[1].rsplit("```", 1)[0]
    out = set()
    for line in code.splitlines():
        head = line.split("|", 1)[0].strip()
        if head.isdigit():
            out.add(int(head))
    return out


# units and packs, pure ------------------------------------------------------------------


def test_python_units_are_definitions_imports_and_class_bodies() -> None:
    lines = THREE.splitlines()
    units = split_units(lines, "python")
    names = [(u.kind, u.name) for u in units]
    assert names == [
        ("imports", "<imports>"),
        ("function", "first"),
        ("function", "second"),
        ("class", "Cart"),
        ("method", "Cart.total"),
    ]
    method = units[-1]
    assert method.header == "class Cart:" and method.lines == [15, 16]
    body = units[3]
    assert body.lines == [12, 13] and body.header == "class Cart:"  # header and `rate = 3`
    covered = sorted(n for u in units for n in u.lines)
    assert covered == [n for n in range(1, len(lines) + 1) if lines[n - 1].strip()]


def test_unit_hash_ignores_whitespace_and_follows_the_salt() -> None:
    a = split_units(["def f(x):", "    return x"], "python")[0]
    b = split_units(["def f(x):", "    return  x   "], "python")[0]
    c = split_units(["def f(x):", "    return x + 1"], "python")[0]
    assert unit_hash(a, "m1") == unit_hash(b, "m1") != unit_hash(c, "m1")
    assert unit_hash(a, "m1") != unit_hash(a, "m2")


def test_a_file_that_does_not_parse_falls_back_to_blocks() -> None:
    lines = ["def broken(:", "    pass", "", "x = 1"]
    units = split_units(lines, "python")
    assert [u.kind for u in units] == ["block"]
    big = [f"line_{i} = {i}" if i % 10 else "" for i in range(1, 400)]
    blocks = split_units(big, "text")
    assert len(blocks) > 1 and all(u.end - u.start < 150 for u in blocks)


def test_pack_resolves_workspace_callees_and_names_libraries(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "money.py").write_text(
        'def to_cents(amount: float, *, rounding: str = "half-up") -> int:\n'
        '    """Dollars to integer cents."""\n'
        "    return round(amount * 100)\n"
    )
    source = (
        "import requests\n"
        "from pkg.money import to_cents\n"
        "from pkg import money\n\n\n"
        "def charge(x):\n"
        "    requests.post('u')\n"
        "    return to_cents(x) + money.to_cents(x)\n"
    )
    path = tmp_path / "app.py"
    path.write_text(source)
    unit = next(u for u in split_units(source.splitlines(), "python") if u.name == "charge")
    pack = build_pack(unit, module_facts(source), path, tmp_path, 800)
    assert "def to_cents(amount: float, *, rounding: str='half-up') -> int: ..." in pack.text
    assert "Dollars to integer cents." in pack.text
    assert "import requests" in pack.text
    assert set(pack.resolved) == {"to_cents", "money.to_cents"}


# the server ------------------------------------------------------------------------------


async def test_static_findings_first_then_the_model(start_client, scripted, project: Path):
    """With a slow model the ruff finding is on screen before the model answers; the
    model's finding joins it in a later publish for the same version."""
    scripted.set_default(
        "issue_detector",
        {"_delay": 2.0, "_then": {"issues": [issue(5, "off by one", "return a + 1")]}},
    )
    client = await start_client(model_options(scripted, staticPrepass={"enabled": True}))
    uri = open_document(client, project / "three.py", THREE)
    early = await wait_for_diagnostics(
        client, uri, lambda d: any(x.code == "F401" for x in d), final=False
    )
    assert {d.code for d in early} == {"F401"}  # `import os` unused; the model is still busy
    final = await wait_for_diagnostics(client, uri, lambda d: len(d) == 2)
    assert {d.code for d in final} == {"F401", "bug"}


async def test_an_edit_sends_only_its_unit_and_keeps_the_others(
    start_client, scripted, project: Path
):
    scripted.set_default("issue_detector", {"issues": []})
    scripted.enqueue(
        "issue_detector", {"issues": [issue(9, "doubles instead of halving", "return b * 2")]}
    )
    options = model_options(scripted)
    options["staticPrepass"] = {"enabled": False}
    client = await start_client(options)
    uri = open_document(client, project / "three.py", THREE)
    [before] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert numbered_lines_of(scripted.prompts_for("issue_detector")[0]) >= {1, 5, 9, 16}

    # edit `first` and add two lines above `second`: only `first` goes to the model
    edited = THREE.replace("return a + 1", "return a + 2\n\n")
    edit_and_save(client, uri, 2, edited)
    await asyncio.to_thread(scripted.wait_for_requests, 2, 60)  # the loop must keep serving
    await wait_for_diagnostics(client, uri, timeout=60)
    [after] = client.diagnostics[uri]
    prompts = scripted.prompts_for("issue_detector")
    assert len(prompts) == 2
    assert numbered_lines_of(prompts[1]) == {4, 5}
    assert after.data["fingerprint"] == before.data["fingerprint"]
    assert after.message == before.message
    assert after.range.start.line == before.range.start.line + 2


LONG = "def settle(ledger):\n" + "".join(
    f"    a{i} = ledger.get({i})\n" for i in range(1, 21)
) + "    total = sum([a1, a2])\n    return total / len(ledger)\n"


async def test_a_small_change_in_a_long_definition_is_reviewed_in_a_window(
    start_client, scripted, project: Path
):
    scripted.set_default("issue_detector", {"issues": []})
    scripted.set_default("fix_generator", {"fixes": []})
    scripted.enqueue(
        "issue_detector",
        {
            "issues": [
                issue(3, "reads the wrong entry", "a2 = ledger.get(2)"),
                issue(23, "divides by zero on an empty ledger", "return total / len(ledger)"),
            ]
        },
        {"issues": [issue(13, "the guard hides a missing entry", "a12 = ledger.get(12) or 0")]},
    )
    options = model_options(scripted)
    options["staticPrepass"] = {"enabled": False}
    client = await start_client(options)
    uri = open_document(client, project / "ledger.py", LONG)
    before = await wait_for_diagnostics(client, uri, lambda d: len(d) == 2)

    # line 13 changes and a line is inserted after it: the model sees the signature and
    # the lines around the change; the findings above and below are kept, the lower one moved
    edited = LONG.replace(
        "    a12 = ledger.get(12)\n", "    a12 = ledger.get(12) or 0\n    assert a12 >= 0\n"
    )
    edit_and_save(client, uri, 2, edited)
    after = await wait_for_diagnostics(client, uri, lambda d: len(d) == 3, timeout=60)
    prompts = scripted.prompts_for("issue_detector")
    assert len(prompts) == 2
    assert numbered_lines_of(prompts[1]) == {1, *range(10, 18)}
    old = {d.message.split(" (")[0]: d for d in before}
    new = {d.message.split(" (")[0]: d for d in after}
    assert set(new) == {*old, "the guard hides a missing entry"}
    for message, d in old.items():
        assert new[message].data["fingerprint"] == d.data["fingerprint"]
    assert new["reads the wrong entry"].range.start.line == 2
    assert new["divides by zero on an empty ledger"].range.start.line == 23


async def test_cache_survives_a_restart_and_follows_a_callee_signature(
    start_client, scripted, project: Path
):
    (project / "money.py").write_text("def to_cents(amount):\n    return round(amount * 100)\n")
    caller = "from money import to_cents\n\n\ndef charge(x):\n    return to_cents(x)\n"
    scripted.set_default(
        "issue_detector", {"issues": [issue(5, "charge rounds twice", "return to_cents(x)")]}
    )
    options = model_options(scripted)
    options["staticPrepass"] = {"enabled": False}
    client = await start_client(options)
    uri = open_document(client, project / "shop.py", caller)
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    first = scripted.prompts_for("issue_detector")
    assert len(first) == 1 and "def to_cents(amount) -> ..." not in first[0]
    assert "def to_cents(amount): ..." in first[0]  # the callee's signature from money.py
    await client.shutdown_session()

    # a new server process, the same database: the unchanged file costs no model call
    client = await start_client(options)
    uri = open_document(client, project / "shop.py", caller)
    [cached] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert cached.message.startswith("charge rounds twice")
    assert len(scripted.prompts_for("issue_detector")) == 1

    # the callee's signature changes in the other file: the caller is reviewed again
    (project / "money.py").write_text(
        "def to_cents(amount, rounding):\n    return round(amount * 100)\n"
    )
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await asyncio.to_thread(scripted.wait_for_requests, 2, 60)  # the loop must keep serving
    await wait_for_diagnostics(client, uri)
    latest = scripted.prompts_for("issue_detector")
    assert len(latest) == 2 and "def to_cents(amount, rounding): ..." in latest[1]


async def test_changed_units_are_batched_within_the_budget(start_client, scripted, project: Path):
    body = "".join(
        f"def f{i}(x):\n    total = x\n" + f"    total += x * {i}\n" * 20 + "    return total\n\n\n"
        for i in range(8)
    )
    scripted.set_default("issue_detector", {"issues": []})
    options = model_options(scripted)
    options["staticPrepass"] = {"enabled": False}
    options["review"] = {"batchTokens": 400}
    client = await start_client(options)
    uri = open_document(client, project / "many.py", body)
    await wait_for_diagnostics(client, uri)
    prompts = scripted.prompts_for("issue_detector")
    assert 2 <= len(prompts) <= 8
    seen: set[int] = set()
    for prompt in prompts:
        shown = numbered_lines_of(prompt)
        assert not (shown & seen)  # each unit in one batch only
        seen |= shown
    assert seen == {n for n, line in enumerate(body.splitlines(), 1) if line.strip()}


async def test_scope_file_sends_the_whole_file_every_time(start_client, scripted, project: Path):
    scripted.set_default("issue_detector", {"issues": []})
    options = model_options(scripted)
    options["staticPrepass"] = {"enabled": False}
    options["review"] = {"scope": "file"}
    client = await start_client(options)
    uri = open_document(client, project / "three.py", THREE)
    await wait_for_diagnostics(client, uri)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await asyncio.to_thread(scripted.wait_for_requests, 2, 60)  # the loop must keep serving
    await asyncio.wait_for(wait_for_diagnostics(client, uri), 20)
    assert [len(numbered_lines_of(p)) for p in scripted.prompts_for("issue_detector")] == [9, 9]

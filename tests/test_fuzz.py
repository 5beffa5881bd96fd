"""Random edits and random model answers against the real server (hypothesis).

Whatever arrives, the server stays alive, its copy of each document matches the editor's,
and every diagnostic it publishes lies inside the text of the version it names.
"""

from __future__ import annotations

import hashlib
import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types

from tests.conftest import open_document, wait_for_diagnostics

# LSP ends lines only at \n, \r\n and \r; keep other Unicode line separators out (pygls
# splits on them too, which is a different question from the one asked here).
ALPHABET = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
)
PIECES = st.sampled_from(["\n", "\r\n", "\r", "😀", "é", "\t", "    ", "x = 1", "def f():"])
TEXT = st.lists(st.text(ALPHABET, max_size=4) | PIECES, max_size=15).map("".join)
LINE = st.integers(min_value=-2, max_value=40)
ISSUE = st.fixed_dictionaries(
    {
        "line": LINE,
        "end_line": LINE | st.none(),
        "message": st.text(min_size=1, max_size=20),
        "severity": st.sampled_from(["error", "warning", "info"]),
        "category": st.text(max_size=10),
        "snippet": st.text(max_size=10) | st.none(),
    }
)
ANSWER = st.one_of(
    st.fixed_dictionaries({"issues": st.lists(ISSUE, max_size=4)}),
    st.text(max_size=40),
    st.just({"_status": 500}),
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    ),
)
counter = itertools.count()


def split(text: str) -> list[str]:
    import re

    return re.split(r"\r\n|\r|\n", text)


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def offset_of(text: str, line: int, units: int) -> int:
    """Code point offset of an LSP position (UTF-16 units) in ``text``."""
    import re

    starts = [0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", text))]
    start = starts[line]
    lines = split(text)
    col, seen = 0, 0
    for ch in lines[line]:
        if seen >= units:
            break
        seen += utf16_len(ch)
        col += 1
    return start + col


@st.composite
def edit(draw, text: str):
    lines = split(text)
    l1 = draw(st.integers(0, len(lines) - 1))
    l2 = draw(st.integers(l1, len(lines) - 1))
    c1 = draw(st.integers(0, len(lines[l1])))
    c2 = draw(st.integers(0 if l2 > l1 else c1, len(lines[l2])))
    u1, u2 = utf16_len(lines[l1][:c1]), utf16_len(lines[l2][:c2])
    return (l1, u1, l2, u2, draw(TEXT))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_random_edits_and_answers(fuzz_client, data):
    client, scripted, project = fuzz_client
    for answer in data.draw(st.lists(ANSWER, min_size=1, max_size=4)):
        scripted.enqueue("issue_detector", answer)
    text = data.draw(TEXT)
    uri = open_document(client, project / f"f{next(counter)}.py", text)
    versions = {1: text}
    version = 1
    for _ in range(data.draw(st.integers(1, 6))):
        l1, u1, l2, u2, new = data.draw(edit(text))
        start, end = offset_of(text, l1, u1), offset_of(text, l2, u2)
        text = text[:start] + new + text[end:]
        version += 1
        versions[version] = text
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=types.Position(l1, u1), end=types.Position(l2, u2)),
                        text=new,
                    )
                ],
            )
        )
        if data.draw(st.booleans()):
            client.text_document_did_save(
                types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )
    info = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kaizen.documentInfo", arguments=[{"uri": uri}])
    )
    assert info["version"] == version
    assert info["sha256"] == hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    # a final save settles the document; its diagnostics must fit the final text
    scripted.enqueue("issue_detector", data.draw(ANSWER))
    client.diagnostics.pop(uri, None)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    diagnostics = await wait_for_diagnostics(client, uri, timeout=30)
    lines = split(text)
    for d in diagnostics:
        r = d.range
        assert (r.start.line, r.start.character) <= (r.end.line, r.end.character)
        assert 0 <= r.start.line < len(lines) and r.end.line < len(lines), json.dumps(text)
        assert r.end.character <= utf16_len(lines[r.end.line])
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )

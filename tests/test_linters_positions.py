"""The texts a linter fixed, turned back into edits: exact, small and fast on repetitive
files (property-tested: applying the edits to the old text gives the new one)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kaizen.pipelines.linters.positions import TextIndex, edits_between

LINES = st.sampled_from(["  debugger;\n", "}\n", "\n", "  return x;\n", "x == null\r\n", "é😀\n"])


def apply(old: str, changes: list[tuple[int, int, str]]) -> str:
    for start, end, text in sorted(changes, reverse=True):
        old = old[:start] + text + old[end:]
    return old


@settings(max_examples=300, deadline=None)
@given(
    st.lists(LINES, max_size=40),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2), st.lists(LINES, max_size=2))),
)
def test_applying_the_edits_gives_the_fixed_text(lines: list[str], fixes) -> None:
    old = "".join(lines)
    new_lines = list(lines)
    for at, removed, added in fixes:  # local fixes: replace a few lines somewhere
        at = min(at, len(new_lines))
        new_lines[at : at + removed] = added
    new = "".join(new_lines)
    changes = edits_between(old, new)
    assert changes is not None  # every change here is within the resync window
    assert apply(old, changes) == new
    for start, end, _text in changes:
        assert 0 <= start <= end <= len(old)


def test_an_edit_is_cut_to_the_characters_that_differ() -> None:
    old = "a\nif (x == null) {}\nb\n"
    assert edits_between(old, old.replace("==", "===")) == [(10, 10, "=")]  # after `x ==`
    assert edits_between(old, old) == []


def test_many_similar_functions_stay_linear() -> None:
    body = "".join(f"function f{i}(x) {{\n  debugger;\n  return x;\n}}\n\n" for i in range(400))
    changes = edits_between(body, body.replace("  debugger;\n", ""))
    assert changes is not None and len(changes) == 400
    # each one exactly a removed statement (difflib needed seconds and paired lines wrongly)
    assert all(body[s:e] == "  debugger;\n" and t == "" for s, e, t in changes)


def test_texts_that_do_not_rejoin_give_no_edits() -> None:
    old = "".join(f"{i}\n" for i in range(300))
    new = "".join(f"x{i}\n" for i in range(300))
    assert edits_between(old, new) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "é", "😀", "\n", "\r", " ", "中"]), max_size=60))
def test_byte_offsets_map_to_code_points(text: str) -> None:
    index = TextIndex(text)
    for k in range(len(text) + 1):
        assert index.char_offset(len(text[:k].encode("utf-8"))) == k

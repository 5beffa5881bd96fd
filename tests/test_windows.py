"""Changed-lines review (``pipelines/windows``): which lines a changed definition shows,
and which of its earlier findings it keeps."""

from __future__ import annotations

from kaizen.pipelines.windows import CONTEXT, MIN_LINES, carry, line_digests
from kaizen.pipelines.windows import changed_window as window_of_digests


def changed_window(old: list[str], new: list[str]):
    """The window of ``new`` against ``old``, both given as text."""
    return window_of_digests(line_digests(old), line_digests(new), new)


BODY = [f"    x{i} = compute({i})" for i in range(1, 30)]
OLD = ["def work():", *BODY, "    return x29"]


def entry(start: int, end: int, *, edit: tuple[int, int] | None = None) -> dict:
    """A cached finding on unit lines ``start``..``end`` (indices), as ``to_cache`` writes."""
    out = {"message": f"at {start}", "start": [start, 0], "end": [end, 0], "edits": []}
    if edit is not None:
        out["edits"] = [{"start": [edit[0], 0], "startCol": 0, "end": [edit[1], 0], "endCol": 0}]
    return out


def test_one_changed_line_shows_its_surroundings_and_the_signature() -> None:
    new = list(OLD)
    new[15] = "    x15 = compute(15) + 1"
    window = changed_window(OLD, new)
    assert window is not None
    assert window.shown == {0, *range(15 - CONTEXT, 15 + CONTEXT + 1)}
    assert all(window.moved[i] == i for i in range(len(OLD)) if i != 15)


def test_inserted_lines_move_what_follows() -> None:
    new = [*OLD[:10], "    guard()", "    guard()", *OLD[10:]]
    window = changed_window(OLD, new)
    assert window is not None
    assert {10, 11} <= window.shown and 0 in window.shown
    assert window.moved[20] == 22  # the unchanged lines after the insertion moved down 2


def test_deleted_lines_show_both_sides_of_the_gap() -> None:
    new = [*OLD[:10], *OLD[12:]]
    window = changed_window(OLD, new)
    assert window is not None
    assert {9, 10} <= window.shown


def test_small_unchanged_or_mostly_changed_definitions_are_reviewed_whole() -> None:
    short = OLD[: MIN_LINES - 1]
    assert changed_window(short, [*short[:-1], "    changed()"]) is None
    assert changed_window(OLD, list(OLD)) is None  # only its context changed
    rewritten = [OLD[0], *(line + "  # typed" for line in OLD[1:])]
    assert changed_window(OLD, rewritten) is None


def test_findings_outside_the_window_are_carried_to_their_new_lines() -> None:
    new = [*OLD[:10], "    guard()", *OLD[10:]]
    window = changed_window(OLD, new)
    assert window is not None
    kept = carry([entry(3, 3), entry(10, 10), entry(25, 26, edit=(25, 26)), entry(8, 12)], window)
    # line 10 is beside the insertion (shown again) and 8..12 spans it: left to the review
    assert [(e["message"], e["start"], e["end"]) for e in kept] == [
        ("at 3", [3, 0], [3, 0]),
        ("at 25", [26, 0], [27, 0]),
    ]
    assert kept[1]["edits"][0]["start"] == [26, 0] and kept[1]["edits"][0]["end"] == [27, 0]


def test_a_finding_on_a_changed_line_is_not_carried_and_corrupt_rows_are_skipped() -> None:
    new = list(OLD)
    new[20] = "    x20 = other(20)"
    window = changed_window(OLD, new)
    assert window is not None
    assert carry([entry(20, 20), {"start": "bad"}, {"message": "no span"}], window) == []


def test_a_decorated_definition_shows_its_signature_below_the_decorators() -> None:
    old = ["@cache", "@trace(level=2)", *OLD]
    new = [*old[:20], "    x18 = compute(18) + 1", *old[21:]]
    window = changed_window(old, new)
    assert window is not None
    assert {0, 1, 2} <= window.shown and 3 not in window.shown


def test_the_learnings_query_is_the_same_whether_a_unit_is_windowed_or_not() -> None:
    """The instant view starts the run's learnings search from the plan before the run
    narrows it; the run takes that search only when its query is the same."""
    from kaizen.languages.context_pack import Pack
    from kaizen.languages.units import Unit
    from kaizen.pipelines.review import Plan, Planned, Review

    unit = Unit("function", "work", list(range(1, len(OLD) + 1)), "\n".join(OLD))
    planned = Planned(unit, "h", Pack(""))
    review = Review(Plan("autofix", [planned]), [], [[planned]])
    before = review.query(OLD)
    planned.window = [1, 14, 15, 16]
    assert review.query(OLD) == before == "\n".join(OLD)

"""Fix verification (issue 24): a fix is offered only when the fixed document still parses
where it parsed before, stays in its unit, deletes nothing unasked and adds no ruff finding.

The checks run on the real parsers (``compile``, tree-sitter) and the real ruff; the property
tests drive ``attach_fixes`` with random model answers and re-parse every offered fix with a
parser of their own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_python
import tree_sitter_typescript
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaizen.core.answers import FixItem, FixReport
from kaizen.core.document import Document
from kaizen.core.findings import Finding, apply_edits, edits_overlap
from kaizen.languages.units import split_units, unit_of
from kaizen.pipelines.autofix import attach_fixes
from kaizen.pipelines.verify import error_count, is_deletion, syntax_ok, touched_lines

PY = (
    "import os\n"
    "\n"
    "\n"
    "def mean(xs):\n"
    "    total = sum(xs)\n"
    "    return total / len(xs)\n"
    "\n"
    "\n"
    "def load(path):\n"
    "    with open(path) as handle:\n"
    "        return handle.read()\n"
    "\n"
    "\n"
    "LIMIT = mean([1, 2])\n"
)
TS = (
    "export function charsetOf(header: string | null): string {\n"
    "  const charset = header?.split(';')[1];\n"
    "  if (charset == null) {\n"
    "    return 'utf-8';\n"
    "  }\n"
    "  return charset.trim();\n"
    "}\n"
    "\n"
    "export const ratio = (a: number, b: number): number => a / b;\n"
)
TS_BROKEN = TS + "const oops = (1 + ;\n"  # already has a syntax error before any fix
PY_BROKEN = PY + "\n\ndef half(:\n    return 1\n"  # mid-edit: does not parse


def doc_of(tmp: Path, name: str, text: str) -> Document:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return Document(uri=path.as_uri(), path=path, text=text)


def finding(line: int, end: int | None = None) -> Finding:
    return Finding("autofix", "bug", "warning", line, end or line, "x may be wrong", origin="model")


def fix(issue: int, start: int, end: int, text: str, **extra: object) -> FixItem:
    return FixItem(issue=issue, start_line=start, end_line=end, replacement=text, **extra)


async def attach(doc: Document, fixes: list[FixItem], findings: list[Finding], lint: bool = False):
    units = split_units(doc.lines, doc.language)
    owners = [unit_of(units, f.start_line) for f in findings]
    return await attach_fixes(FixReport(fixes=fixes), findings, doc, owners, lint=lint)


def test_syntax_ok_per_language():
    assert syntax_ok("python", PY) is True
    assert syntax_ok("python", "def f(:\n") is False
    assert syntax_ok("python", "return 1\n") is False  # the compiler's check, not only ast
    assert syntax_ok("typescript", TS) is True
    assert syntax_ok("typescript", TS_BROKEN) is False
    assert syntax_ok("tsx", "const a = <div>{x}</div>;\n") is True  # a .tsx file is "tsx"
    assert syntax_ok("go", "package m\nfunc f() {\n") is False  # every grammar of the table
    assert syntax_ok("javascript", "function f() { return [1, 2; }\n") is False
    assert syntax_ok("cobol", "anything") is None


async def test_a_good_fix_is_offered(tmp_path: Path):
    doc = doc_of(tmp_path, "m.py", PY)
    f = finding(6)
    refused = await attach(doc, [fix(1, 6, 6, "    return total / len(xs) if xs else 0.0")], [f])
    assert refused == [] and f.has_fix
    assert "if xs else 0.0" in apply_edits(doc.text, f.edits)


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (fix(1, 6, 6, ""), "fix-deletion"),  # an empty replacement of code, unmarked
        (fix(1, 6, 6, "   \n\t"), "fix-deletion"),  # whitespace is empty too
        (fix(1, 6, 6, "    return (total / len(xs)"), "fix-syntax"),  # unbalanced bracket
        (fix(1, 5, 10, "    return 0"), "fix-outside-unit"),  # into the next function
        (fix(1, 6, 6, "    return total / len(xs)"), "fix-noop"),
        (fix(1, 6, 99, "    return 0"), "fix-range"),
    ],
)
async def test_broken_fixes_are_refused_and_the_finding_stays(tmp_path: Path, answer, kind):
    doc = doc_of(tmp_path, "m.py", PY)
    f = finding(6)
    [(who, why)] = await attach(doc, [answer], [f])
    assert who is f and why.kind == kind, why
    assert not f.has_fix


async def test_overlapping_entries_for_one_issue_are_refused(tmp_path: Path):
    doc = doc_of(tmp_path, "m.py", PY)
    f = finding(5, 6)
    answer = [fix(1, 5, 6, "    total = sum(xs)\n    return 0"), fix(1, 6, 6, "    return 1")]
    [(_, why)] = await attach(doc, answer, [f])
    assert why.kind == "fix-overlap"
    apart = [fix(1, 5, 5, "    total = sum(xs) or 0"), fix(1, 6, 6, "    return total")]
    g = finding(5, 6)
    assert await attach(doc, apart, [g]) == [] and len(g.edits) == 2


async def test_a_marked_deletion_is_offered(tmp_path: Path):
    doc = doc_of(tmp_path, "m.py", PY)
    f = finding(5)
    assert await attach(doc, [fix(1, 5, 5, "", delete=True)], [f]) == []
    assert is_deletion(doc.text, f.edits)
    # marked or not, a deletion that breaks the code is refused: the body would be empty
    g = finding(6)
    [(_, why)] = await attach(doc, [fix(1, 5, 6, "", delete=True)], [g])
    assert why.kind == "fix-syntax"


async def test_a_fix_that_adds_a_ruff_finding_is_refused(tmp_path: Path):
    doc = doc_of(tmp_path, "m.py", PY)
    f = finding(6)
    answer = [fix(1, 6, 6, "    return total / len(items)")]  # F821: undefined name
    [(_, why)] = await attach(doc, answer, [f], lint=True)
    assert why.kind == "fix-lint" and "F821" in why.reason
    g = finding(6)  # the linter's existing findings (F401 os) do not count against a fix
    assert await attach(doc, [fix(1, 6, 6, "    return total / max(len(xs), 1)")], [g], lint=True) == []


async def test_typescript_deleting_the_if_line_is_refused(tmp_path: Path):
    doc = doc_of(tmp_path, "charset.ts", TS)
    f = finding(3)
    [(_, why)] = await attach(doc, [fix(1, 3, 3, "")], [f])
    assert why.kind == "fix-deletion"
    g = finding(3)  # marked as a deletion it still leaves an unmatched `}`: refused
    [(_, why)] = await attach(doc, [fix(1, 3, 3, "", delete=True)], [g])
    assert why.kind == "fix-syntax"
    h = finding(3)
    good = fix(1, 3, 5, "  if (!charset) {\n    return 'utf-8';\n  }")
    assert await attach(doc, [good], [h]) == [] and h.has_fix


async def test_a_document_with_errors_may_keep_them_but_gets_no_new_one(tmp_path: Path):
    doc = doc_of(tmp_path, "broken.ts", TS_BROKEN)
    assert error_count("typescript", TS_BROKEN) == 1
    f = finding(6)
    assert await attach(doc, [fix(1, 6, 6, "  return charset.trim() || 'utf-8';")], [f]) == []
    g = finding(6)
    [(_, why)] = await attach(doc, [fix(1, 6, 6, "  return charset.trim(;")], [g])
    assert why.kind == "fix-syntax"


# the property: random answers never yield an offered fix that breaks the code -------------

_TS_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_typescript.language_typescript()))
_PY_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))


def parses(language: str, text: str) -> bool:
    """An independent parse (not the module under test): compile, or tree-sitter's tree."""
    if language == "python":
        try:
            compile(text, "<test>", "exec")
        except (SyntaxError, ValueError):
            return False
        return True
    return not _TS_PARSER.parse(text.encode()).root_node.has_error


def ts_errors(text: str, parser: tree_sitter.Parser = _TS_PARSER) -> int:
    stack, count = [parser.parse(text.encode()).root_node], 0
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        elif node.has_error:
            stack.extend(node.children)
    return count


def replacements(lines: list[str]) -> st.SearchStrategy[str]:
    """What models answer: nothing, blanks, lines of the file, brackets, noise, mixes."""
    line = st.sampled_from(lines)
    pieces = st.one_of(
        line,
        st.sampled_from(["(", ")", "{", "}", "[", "]", "'", '"', "  ", "\t", ":", ";", "=>"]),
        st.text(alphabet="abc xyz()[]{}:;=+-'\"\n\t", max_size=20),
    )
    tail = st.sampled_from(["  # note", " // note", ";", " (", ")", " {", "}", " or 0", ",", ""])
    return st.one_of(
        st.just(""),
        st.sampled_from([" ", "\n", "\t\n  ", "\n\n"]),
        line,
        st.tuples(line, tail).map("".join),
        st.lists(line, min_size=1, max_size=4).map("\n".join),
        st.lists(pieces, min_size=1, max_size=6).map("".join),
        st.lists(pieces, min_size=1, max_size=4).map("\n".join),
    )


@st.composite
def answer(draw, at: list[int], n_lines: int, lines: list[str]) -> FixItem:
    """One fix: mostly for a real issue near its line (so many pass the range checks and
    reach the parser), sometimes anywhere, across units or off the document."""
    issue = draw(st.integers(1, len(at)) | st.integers(0, len(at) + 1))
    near = at[min(max(issue, 1), len(at)) - 1]
    start = draw(st.integers(near - 2, near + 1) | st.integers(0, n_lines + 1))
    end = draw(st.integers(start, start + 3) | st.integers(0, n_lines + 2))
    return FixItem(
        issue=issue,
        start_line=start,
        end_line=end,
        replacement=draw(replacements(lines)),
        explanation="fix",
        delete=draw(st.booleans()),
    )


CASES = {
    "python": ("m.py", PY, [4, 6, 10, 14]),
    "typescript": ("charset.ts", TS, [2, 3, 6, 9]),
    "typescript-broken": ("broken.ts", TS_BROKEN, [3, 6]),
    "python-broken": ("half.py", PY_BROKEN, [5, 6, 11]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_offered_fix_ever_breaks_the_code(tmp_path_factory, case: str):
    name, text, lines_with_findings = CASES[case]
    doc = doc_of(tmp_path_factory.mktemp(case), name, text)
    language = doc.language
    units = split_units(doc.lines, language)
    before_ok = parses(language, text)
    offered = 0

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(answer(lines_with_findings, len(doc.lines), doc.lines), min_size=1, max_size=4))
    def prop(fixes: list[FixItem]) -> None:
        nonlocal offered
        findings = [finding(n) for n in lines_with_findings]
        asyncio.run(attach(doc, fixes, findings))
        for f in findings:
            if not f.edits:
                continue
            offered += 1
            after = apply_edits(text, f.edits)
            if before_ok:
                assert parses(language, after), (fixes, after)
            elif language == "python":  # may keep its error, may not add one
                assert parses(language, after) or ts_errors(after, _PY_PARSER) <= max(
                    1, ts_errors(text, _PY_PARSER)
                ), (fixes, after)
            else:
                assert ts_errors(after) <= ts_errors(text), (fixes, after)
            assert not edits_overlap(f.edits)
            unit = unit_of(units, f.start_line)
            for e in f.edits:
                for n in touched_lines(e):
                    assert n + 1 in unit.lines or not doc.lines[n].strip(), (fixes, f.edits)
            if is_deletion(text, f.edits):
                assert all(x.delete for x in fixes if x.issue == findings.index(f) + 1)

    prop()
    assert offered > 0  # the answers do reach the offered path, not only the refusals


async def test_similar_places_are_verified_together(tmp_path: Path):
    """Fix all similar applies every place of a file in one edit: two ruff fixes that both
    rewrite `import os, sys` overlap (an invalid WorkspaceEdit), so only one is offered."""
    from kaizen.pipelines.similar import similar_places

    text = "import os, sys\n\n\ndef f():\n    import json\n    return 1\n"
    doc = doc_of(tmp_path, "imports.py", text)
    places = await similar_places("F401", [doc])
    assert [f.start_line for _, f in places] == [1, 5]
    edits = [e for _, f in places for e in f.edits]
    assert not edits_overlap(edits) and parses("python", apply_edits(text, edits))


async def test_a_refactoring_is_verified_like_a_fix(tmp_path: Path):
    from kaizen.core.answers import Improvement
    from kaizen.pipelines.refactor import attach_improvement

    doc = doc_of(tmp_path, "m.py", PY)
    unit = unit_of(split_units(doc.lines, doc.language), 5)
    f = finding(5, 6)
    broken = Improvement(start_line=5, end_line=6, replacement="    return sum(xs) / len(xs\n")
    assert (await attach_improvement(broken, f, doc, unit, lint=False)).kind == "fix-syntax"
    assert not f.has_fix
    outside = Improvement(start_line=5, end_line=9, replacement="    return sum(xs) / len(xs)")
    assert (await attach_improvement(outside, f, doc, unit, lint=False)).kind == "fix-outside-unit"
    good = Improvement(start_line=5, end_line=6, replacement="    return sum(xs) / len(xs)")
    assert await attach_improvement(good, f, doc, unit, lint=False) is None and f.has_fix

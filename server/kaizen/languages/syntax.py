"""What a text defines and imports, read with tree-sitter and the language's query file.

The query files (``queries/<language>.scm``) say *what* is a definition or an import in each
grammar; this module turns their captures into an ``Outline`` the same way for every
language. The captures a query file may use:

- ``@function``, ``@method``, ``@class``, ``@namespace`` on a definition node (a
  namespace qualifies and gives context to what it holds, like a class, but a function in
  it stays a function); ``@name`` on its name (a
  definition without one is named by its header: ``impl Display for Cart``); ``@receiver``
  (Go) names the type a ``@method`` belongs to; ``@doc`` a docstring inside it (Python).
  A ``@function`` inside a ``@class`` is a method; anything inside a function is part of
  that function, not a definition of its own.
- ``@import`` on an import/use/include/require statement, ``@spec`` on the module it names
  (quotes dropped), ``@reexport`` on an ``export ... from``; ``@package`` on a package or
  namespace line (it goes with the imports in the units, it imports nothing).
- ``@import.name`` on each imported name (with ``@import.alias`` for its local alias), in
  patterns of their own: a name belongs to the ``@import`` statement that contains it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.language_table import LanguageEntry
from . import grammars, trees

# a definition's extent includes these wrappers (``export function``, ``template<...>``)
WRAPPERS = frozenset({"export_statement", "template_declaration", "decorated_definition"})
# and these siblings just above it, with no blank line between (doc comments, decorators)
LEADING = frozenset(
    {"comment", "line_comment", "block_comment", "doc_comment", "decorator", "attribute_item",
     "annotation", "multiline_comment"}
)
MAX_SIGNATURE_CHARS = 400
CONTAINERS = frozenset({"class", "namespace"})
_WS = re.compile(r"\s+")
_COMMENT_MARKS = re.compile(r"^\s*(?:/\*\*?|\*/|\*|///?|//!|#+|--|\"\"\"|''')\s?")


@dataclass(frozen=True)
class Definition:
    name: str  # as written: "total"
    qualified: str  # with its enclosing classes: "Cart.total", "impl Display for Cart.fmt"
    kind: str  # function | method | class | namespace
    signature: str  # the text up to the body, whitespace collapsed
    doc: str  # the first line of its doc comment or docstring, "" without one
    start: int  # 1-based first line of the definition (``export``/``template`` included)
    end: int  # 1-based last line
    parent: str = ""  # the enclosing class's qualified name, "" at the top level
    first: int = 0  # first line with its leading doc comments and decorators (its unit's)
    header: str = ""  # the enclosing classes' header lines, outermost first, for a method
    ok: bool = True  # tree-sitter found no syntax error inside it


@dataclass(frozen=True)
class ImportRef:
    spec: str  # the module as written: "./util", "github.com/x/y", "crate::a::b", "foo.h"
    names: tuple[tuple[str, str], ...]  # (imported name, local alias or "")
    line: int  # 1-based
    reexport: bool = False  # ``export ... from``
    end: int = 0  # last line of the statement


@dataclass
class Outline:
    definitions: list[Definition] = field(default_factory=list)
    imports: list[ImportRef] = field(default_factory=list)
    packages: list[tuple[int, int]] = field(default_factory=list)  # package-line spans
    has_error: bool = False
    errors: list[tuple[int, int]] = field(default_factory=list)  # top-level spans with one
    # the spans of the top-level statements: a blank line inside one does not end a group
    statements: list[tuple[int, int]] = field(default_factory=list)


def _lines(node: Any) -> tuple[int, int]:
    """1-based first and last line of a node (a node ending at a line start ends above)."""
    (r0, _), (r1, c1) = node.start_point, node.end_point
    if c1 == 0 and r1 > r0:
        r1 -= 1
    return r0 + 1, r1 + 1


def _text(source: bytes, a: int, b: int) -> str:
    return source[a:b].decode("utf-8", "replace")


def _extent(node: Any) -> Any:
    while node.parent is not None and node.parent.type in WRAPPERS:
        node = node.parent
    return node


def _first_line(node: Any) -> int:
    """The first line of ``node`` with the comments and decorators right above it."""
    first = node.start_point.row
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type in LEADING and sibling.end_point.row >= first - 1:
        first = sibling.start_point.row
        sibling = sibling.prev_named_sibling
    return first + 1


def _signature(node: Any, source: bytes) -> str:
    body = node.child_by_field_name("body")
    level = [node]
    for _ in range(3):  # a declaration wrapping the function: ``const f = () => {}``
        if body is not None:
            break
        level = [c for n in level for c in n.named_children]
        body = next((b for c in level if (b := c.child_by_field_name("body")) is not None), None)
    if body is not None and body.start_byte > node.start_byte:
        text = _text(source, node.start_byte, body.start_byte)
    else:
        text = _text(source, node.start_byte, node.end_byte).split("\n", 1)[0]
    return _WS.sub(" ", text).strip().rstrip("{:=").strip()[:MAX_SIGNATURE_CHARS]


def _doc(node: Any, doc: Any | None, source: bytes) -> str:
    """The first line of a ``@doc`` docstring, else of the comment right above ``node``."""
    if doc is not None:
        text = _text(source, doc.start_byte, doc.end_byte).strip("\"'rbuRBU \n")
    else:
        parts: list[str] = []
        sibling, row = node.prev_named_sibling, node.start_point.row
        while sibling is not None and sibling.type in LEADING and sibling.end_point.row >= row - 1:
            if "comment" in sibling.type:  # skipping decorators and attributes between
                parts.insert(0, _text(source, sibling.start_byte, sibling.end_byte))
            sibling, row = sibling.prev_named_sibling, sibling.start_point.row
        text = "\n".join(parts)
    for line in text.splitlines():
        if cleaned := _COMMENT_MARKS.sub("", line).strip().rstrip("*/").strip():
            return cleaned
    return ""


def _spec(node: Any, source: bytes) -> str:
    return _text(source, node.start_byte, node.end_byte).strip().strip("\"'`<>")


def outline_of(entry: LanguageEntry, text: str, document: str = "") -> Outline | None:
    """The definitions and imports of ``text``; None without a grammar or a query."""
    query = grammars.query(entry)
    tree = trees.parse(entry, text, document) if query is not None else None
    if query is None or tree is None:
        return None
    import tree_sitter

    source = text.encode("utf-8", "surrogatepass")
    found: dict[int, tuple[str, dict[str, Any]]] = {}  # node id -> kind, captures
    imports: list[tuple[Any, dict[str, Any]]] = []
    names: list[dict[str, Any]] = []
    packages: list[tuple[int, int]] = []
    for _, caps in tree_sitter.QueryCursor(query).matches(tree.root_node):
        one = {k: v[0] for k, v in caps.items() if v}
        for kind in ("function", "method", "class", "namespace"):
            if kind in one:
                node = one[kind]
                found.setdefault(node.id, (kind, one))
                break
        else:
            if "import" in one:
                imports.append((one["import"], one))
            elif "package" in one:
                packages.append(_lines(one["package"]))
            elif "import.name" in one:
                names.append(one)
    root = tree.root_node
    out = Outline(has_error=root.has_error, packages=packages)
    out.statements = [_lines(c) for c in root.named_children]
    if root.has_error:
        out.errors = [_lines(c) for c in root.children if c.has_error or c.is_missing]
    out.definitions = _definitions(found, source)
    out.imports = _imports(imports, names, source)
    return out


def _definitions(found: dict[int, tuple[str, dict[str, Any]]], source: bytes) -> list[Definition]:
    classes: dict[int, str] = {}  # a class node's id -> its qualified name
    headers: dict[int, str] = {}
    out: list[Definition] = []

    def span_of(item: tuple[int, tuple[str, dict[str, Any]]]) -> tuple[int, int]:
        node = item[1][1][item[1][0]]
        return node.start_byte, -node.end_byte

    # outermost first: a class is named before its members look it up
    for node_id, (kind, caps) in sorted(found.items(), key=span_of):
        node = caps[kind]
        chain: list[int] = []
        inside_function = False
        parent = node.parent
        while parent is not None:
            if parent.id in found:
                if found[parent.id][0] in CONTAINERS:
                    chain.append(parent.id)
                elif not parent.has_error:
                    inside_function = True
                    break
                # else: a function broken mid-edit swallowed what follows it (an unclosed
                # brace); the definitions it swallowed are still the file's own

            parent = parent.parent
        if inside_function or any(k not in classes for k in chain):
            continue
        extent = _extent(node)
        name_node = caps.get("name")
        signature = _signature(extent, source)
        name = (
            _WS.sub(" ", _text(source, name_node.start_byte, name_node.end_byte)).strip()
            if name_node is not None
            else signature.split("\n", 1)[0][:80]
        )
        owner = classes[chain[0]] if chain else ""
        if kind == "method" and (receiver := caps.get("receiver")) is not None and not owner:
            owner = _text(source, receiver.start_byte, receiver.end_byte)
        if kind == "function" and chain and found[chain[0]][0] == "class":
            kind = "method"
        qualified = f"{owner}.{name}" if owner else name
        start, end = _lines(extent)
        definition = Definition(
            name, qualified, kind, signature, _doc(extent, caps.get("doc"), source),
            start, end, owner, _first_line(extent),
            "\n".join(headers[k] for k in reversed(chain)), not node.has_error,
        )
        if kind in CONTAINERS:
            classes[node_id] = qualified
            headers[node_id] = signature
        out.append(definition)
    # a Go method's header: its receiver type's declaration, when this file has it
    by_name = {d.qualified: d.signature for d in out if d.kind == "class"}
    return [
        d if d.header or d.kind != "method" or d.parent not in by_name
        else _with_header(d, by_name[d.parent])
        for d in out
    ]


def _with_header(d: Definition, header: str) -> Definition:
    return replace(d, header=header)


def _imports(
    statements: list[tuple[Any, dict[str, Any]]], names: list[dict[str, Any]], source: bytes
) -> list[ImportRef]:
    statements.sort(key=lambda s: s[0].start_byte)
    starts = [s[0].start_byte for s in statements]
    bound: list[list[tuple[str, str]]] = [[] for _ in statements]
    for caps in names:
        node = caps["import.name"]
        i = bisect_right(starts, node.start_byte) - 1
        if i >= 0 and node.end_byte <= statements[i][0].end_byte:
            alias = caps.get("import.alias")
            name = _spec(node, source)
            pair = ("*" if name.startswith("*") or name.endswith("*") else name,  # ``* as fs``
                    _spec(alias, source) if alias is not None else "")
            if pair not in bound[i]:
                bound[i].append(pair)
    out = []
    for (node, caps), pairs in zip(statements, bound, strict=True):
        if ("*", "") in pairs:  # ``import a.b.*``: the last segment is not a name
            pairs = [("*", "")]
        spec = caps.get("spec")
        start, end = _lines(node)
        out.append(
            ImportRef(
                _spec(spec, source) if spec is not None else _spec(node, source),
                tuple(pairs), start, "reexport" in caps, end,
            )
        )
    return out

"""The context pack: what a model needs to judge one unit without guessing.

A model that sees only a function guesses what the functions it calls do, and a guess is
the main source of confident false positives. With each unit the prompt carries, within a
token budget: the imports of the names the unit uses, the enclosing class's header, and the
signature (plus the first docstring line) of every name the unit uses that is defined
elsewhere in the module or in another module of the workspace, resolved statically (``ast``
and import resolution inside the project root). Names from outside the workspace
(libraries) are listed by name, not expanded.

The pack's text is part of the unit's cache key, so it holds only what the unit uses: a
changed callee signature (here or in another file) invalidates the units that call it and
no others, and an import added to the module re-reviews no unit until one uses it (the whole
import block in every pack made every unit's hash change with any import).
"""

from __future__ import annotations

import ast
import copy
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .pack_text import render_sections
from .units import Unit, inner_statements, parse_python

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4
MAX_SIGNATURE_CHARS = 400


@dataclass
class ModuleFacts:
    """What other units may want from one module: its imports and its definitions."""

    imports: list[str] = field(default_factory=list)  # the import statements, as written
    # local name -> the imports that bind it, one name each ("from m import a as b")
    import_lines: dict[str, list[str]] = field(default_factory=dict)
    defs: dict[str, str] = field(default_factory=dict)  # name -> signature (+ docstring line)
    # local name -> (module, attribute or None): what ``from m import a as b`` binds
    bound: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)


def _signature(node: ast.AST) -> str:
    """``def f(a: int) -> str: ...`` plus the first docstring line; classes with __init__."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        stub = copy.copy(node)
        stub.body = [ast.Expr(ast.Constant(...))]
        stub.decorator_list = []
        text = ast.unparse(stub).replace("\n    ...", " ...")
    elif isinstance(node, ast.ClassDef):
        shell = copy.copy(node)
        shell.decorator_list = []
        init = next(
            (
                n
                for n in node.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "__init__"
            ),
            None,
        )
        shell.body = [ast.Expr(ast.Constant(...))]
        text = ast.unparse(shell).replace("\n    ...", "")
        if init is not None:
            text += "  # " + _signature(init).removesuffix(" ...")
    else:
        return ""
    doc = ast.get_docstring(node)
    if doc and doc.strip():
        text += f"  # {doc.strip().splitlines()[0]}"
    return text[:MAX_SIGNATURE_CHARS]


def module_facts(source: str, tree: ast.Module | None = None) -> ModuleFacts:
    """Imports and top-level definitions (with the methods of each class, as ``C.m``);
    ``tree``: the module already parsed."""
    if tree is None:
        tree = parse_python(source)
    if tree is None:
        return ModuleFacts()
    return merge_facts(node_facts(node) for node in tree.body)


def node_facts(node: ast.stmt) -> ModuleFacts:
    """What one top-level statement adds to its module's facts."""
    facts = ModuleFacts()
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        facts.imports.append(ast.unparse(node))
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                facts.bound[local] = (alias.name if alias.asname else local, None, 0)
                facts.import_lines[local] = [ast.unparse(ast.Import([alias]))]
        else:
            for alias in node.names:
                bound = (node.module or "", alias.name, node.level)
                local = alias.asname or alias.name
                facts.bound[local] = bound
                one = ast.ImportFrom(node.module, [alias], node.level)
                facts.import_lines[local] = [ast.unparse(one)]
    elif inner := inner_statements(node):  # ``if TYPE_CHECKING:``, ``try: import x``
        return merge_facts(node_facts(s) for s in inner)
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        facts.defs[node.name] = _signature(node)
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    facts.defs[f"{node.name}.{item.name}"] = _signature(item)
    return facts


def merge_facts(parts: Iterable[ModuleFacts]) -> ModuleFacts:
    """The statements' facts in order (a later binding of a name wins, as in the module)."""
    out = ModuleFacts()
    for part in parts:
        out.imports.extend(part.imports)
        for name, lines in part.import_lines.items():
            known = out.import_lines.setdefault(name, [])
            known.extend(line for line in lines if line not in known)
        out.defs.update(part.defs)
        out.bound.update(part.bound)
    return out


@lru_cache(maxsize=512)
def _file_facts(path: str, mtime_ns: int, size: int) -> ModuleFacts:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ModuleFacts()
    snapshot = _snapshot.get()
    if snapshot is None or snapshot.parse is None:
        return module_facts(text)
    if (known := snapshot.facts.get(text)) is not None:
        return known
    done = snapshot.parse(text)  # the same facts, and the units its own planning needs
    snapshot.ahead[text] = done
    return done.facts


def file_facts(path: Path) -> ModuleFacts:
    """``module_facts`` of a file on disk, parsed once per version of the file."""
    try:
        stat = path.stat()
    except OSError:
        return ModuleFacts()
    return _file_facts(str(path), stat.st_mtime_ns, stat.st_size)


@dataclass
class Snapshot:
    """What work over an unchanging workspace computes once (``workspace_snapshot``)."""

    # (module, level, importing folder, root) -> the file it resolves to
    resolved: dict[tuple[str, int, Path, Path | None], Path | None] = field(default_factory=dict)
    # text -> its parse (``languages.parsed.Parsed``), made for another file's context pack
    # and handed to that module's own planning (which then parses nothing)
    ahead: dict[str, Any] = field(default_factory=dict)
    # Python text -> its ``Parsed`` (``languages.parsed.parse``: it imports this module)
    parse: Callable[[str], Any] | None = None
    # text -> the facts of a module planned already (before a file importing it asks)
    facts: dict[str, ModuleFacts] = field(default_factory=dict)


_snapshot: ContextVar[Snapshot | None] = ContextVar("kaizen_workspace_snapshot", default=None)


@contextmanager
def snapshot_of(snapshot: Snapshot) -> Iterator[None]:
    """``snapshot`` in force inside (``languages.parsed.workspace_snapshot`` says why)."""
    token = _snapshot.set(snapshot)
    try:
        yield
    finally:
        _snapshot.reset(token)


def current_snapshot() -> Snapshot | None:
    return _snapshot.get()


def resolve_module(module: str, level: int, here: Path, root: Path | None) -> Path | None:
    """The workspace file of ``module`` imported from the file ``here``; None outside it."""
    snapshot = _snapshot.get()
    if snapshot is None:
        return _resolve_module(module, level, here, root)
    memo, key = snapshot.resolved, (module, level, here.parent, root)
    if key not in memo:
        memo[key] = _resolve_module(module, level, here, root)
    return memo[key]


def _resolve_module(module: str, level: int, here: Path, root: Path | None) -> Path | None:
    parts = [p for p in module.split(".") if p]
    if level:
        base = here.parent
        for _ in range(level - 1):
            base = base.parent
        bases = [base]
    else:
        if root is None:
            return None
        bases = [root, root / "src", here.parent]
    for base in bases:
        target = base.joinpath(*parts) if parts else base
        for candidate in (target.with_suffix(".py"), target / "__init__.py"):
            if candidate.is_file() and (root is None or _inside(candidate, root)):
                return candidate
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


@dataclass
class Pack:
    text: str  # the block the prompt carries
    resolved: list[str] = field(default_factory=list)  # names whose signature is in it


def build_pack(
    unit: Unit,
    facts: ModuleFacts,
    path: Path,
    root: Path | None,
    token_budget: int,
    *,
    language: str = "python",
    index: Any = None,
    text: str | None = None,
) -> Pack:
    """The context block for ``unit`` (see the module doc), cut to ``token_budget``."""
    # lang-index: every other language resolves its own way (languages/crossfile.py), with
    # the workspace symbol index ``index`` and the document's ``text``
    if language != "python":
        from .crossfile import foreign_pack

        budget = token_budget * CHARS_PER_TOKEN
        return Pack(*foreign_pack(unit, language, path, root, index, text, budget))
    budget = token_budget * CHARS_PER_TOKEN
    local: list[str] = []
    workspace: list[str] = []
    library: list[str] = []
    resolved: list[str] = []
    own = unit.name.split(".")
    for name in sorted(unit.names):
        if name in own or name == unit.name:
            continue
        if "." in name:
            head, attr = name.split(".", 1)
            if head == "self" and unit.kind == "method":
                method = f"{own[0]}.{attr}"
                if method != unit.name and method in facts.defs:
                    local.append(facts.defs[method])
                    resolved.append(method)
            elif head in facts.bound:
                module, imported, level = facts.bound[head]
                # ``from m import mod`` then ``mod.f``, or ``from m import Class`` then
                # ``Class.method``: try the name as a module, then as a class in ``m``
                tries = [(f"{module}.{imported}" if imported else module, attr)]
                if imported:
                    tries.append((module, f"{imported}.{attr}"))
                for target_module, member in tries:
                    found = resolve_module(target_module, level, path, root)
                    sig = file_facts(found).defs.get(member) if found is not None else None
                    if sig:
                        workspace.append(f"{sig}  # from {'.' * level}{target_module}")
                        resolved.append(name)
                        break
            continue
        if name in facts.defs:
            local.append(facts.defs[name])
            resolved.append(name)
        elif name in facts.bound:
            module, imported, level = facts.bound[name]
            if imported is None:
                continue  # ``import x``: its attributes are looked up above
            found = resolve_module(module, level, path, root)
            sig = file_facts(found).defs.get(imported) if found is not None else None
            if sig:
                workspace.append(f"{sig}  # from {'.' * level}{module}")
                resolved.append(name)
            elif found is None:
                library.append(f"{'.' * level}{module}.{imported}")
    imports = [line for name in sorted(unit.names) for line in facts.import_lines.get(name, ())]
    sections: list[tuple[str, list[str]]] = [
        ("Imports it uses", imports),
        (
            "Enclosing class" if unit.header.startswith("class ") else "Enclosed in",
            [unit.header] if unit.header else [],
        ),
        ("Defined elsewhere in this module", local),
        ("Defined in other modules of this project", workspace),
        ("From libraries (not shown)", [", ".join(library)] if library else []),
    ]
    return Pack(render_sections(sections, budget), resolved)

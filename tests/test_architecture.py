"""The house rule, enforced: imports under server/kaizen point down only and form no circle.

Layers, bottom up (a module may import its own package and any lower layer, nothing else):

    0  security, the package root (version)
    1  core
    2  config
    3  models, memory, languages, github
    4  pipelines, improvement, rules
    5  app, tools
    6  faces: lsp, mcp, http
    7  cli: the process entry point; ``kaizen serve``, ``mcp`` and ``serve-http`` start the
       other faces, so it sits above them (and ``__main__`` above it)

Lazy imports inside functions and ``TYPE_CHECKING`` imports count: a circle that only
closes at run time is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "server" / "kaizen"
LAYERS = {
    "": 0,
    "security": 0,
    "core": 1,
    "config": 2,
    "models": 3,
    "memory": 3,
    "github": 3,
    "languages": 3,
    "pipelines": 4,
    "improvement": 4,
    "rules": 4,
    "app": 5,
    "tools": 5,
    "lsp": 6,
    "mcp": 6,
    "http": 6,
    "cli": 7,
    "__main__": 8,
}
TOP_LEVEL_ALLOWED = {"__init__.py", "__main__.py", "config.py", "mcp.py", "http.py"}


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = modules()


def imports_of(name: str) -> set[str]:
    """Every kaizen module ``name`` imports (``from pkg import mod`` names the module)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_layer() -> None:
    assert {area(m) for m in MODULES} <= set(LAYERS), "add the new package to LAYERS"


def test_imports_point_down_only() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in GRAPH.items()
        for target in targets
        if area(target) != area(source) and LAYERS[area(target)] >= LAYERS[area(source)]
        and area(target) != ""
    ]
    assert upward == []


def test_no_import_circle() -> None:
    """Tarjan's strongly connected components over the module graph: all of size one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(GRAPH[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    assert circles == []


def test_few_modules_at_the_top() -> None:
    top = {p.name for p in ROOT.glob("*.py")}
    assert top <= TOP_LEVEL_ALLOWED, f"move {sorted(top - TOP_LEVEL_ALLOWED)} into a package"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_core_imports_only_security(name: str) -> None:
    if area(name) != "core":
        return
    assert {area(t) for t in GRAPH[name]} <= {"core", "security", ""}

"""``languages.parsed.workspace_snapshot``: inside it (a ``kaizen check`` run) each
import resolves once and a module parsed for its importers' context packs is not parsed
again when planned, and every plan is what it is without it (same units, packs, hashes)."""

from __future__ import annotations

from pathlib import Path

from kaizen.config import Settings
from kaizen.core.document import Document
from kaizen.languages import context_pack, parsed, units
from kaizen.pipelines.review import _plan_items

FILES = {
    "pkg/__init__.py": "",
    "pkg/shapes.py": (
        "class Box:\n    def __init__(self, w: int, h: int) -> None:\n        self.w, self.h = w, h\n"
        "\n\ndef area(box: Box) -> int:\n    '''Width times height.'''\n"
        "    return box.w * box.h\n"
    ),
    # planned before the module importing it: its facts come from its own planning
    "pkg/a_util.py": "def label(text: str) -> str:\n    return text.title()\n",
    "pkg/report.py": (
        "from .shapes import Box, area\nfrom pkg import shapes\nfrom .a_util import label\n"
        "import os\n\n\n"
        "def describe(w, h):\n    return label(f'{area(Box(w, h))} {shapes.area(Box(h, w))}')\n"
        "\n\ndef where():\n    return os.getcwd()\n"
    ),
    "main.py": "from pkg.report import describe\n\n\ndef run():\n    return describe(2, 3)\n",
}


def plans(root: Path) -> list[list[tuple[str, str]]]:
    settings = Settings()
    out = []
    for name in sorted(FILES):
        path = (root / name).resolve()
        doc = Document(uri=path.as_uri(), path=path, text=path.read_text())
        items = _plan_items(doc, settings.review, ("autofix", "v", "m"), None)
        out.append([(p.hash, p.pack.text) for p in items])
    return out


def test_a_snapshot_plans_the_same_and_parses_each_module_once(tmp_path, monkeypatch):
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    def forget() -> None:
        parsed._by_text.clear()
        parsed._latest.clear()
        context_pack._file_facts.cache_clear()

    forget()
    without = plans(root)
    assert any(
        "def area(box: Box) -> int: ...  # Width times height." in t for p in without for _, t in p
    )  # a signature from another module is in a pack
    packs = "\n".join(t for p in without for _, t in p)
    assert "def label(text: str) -> str: ...  # from .a_util" in packs

    parses: list[str] = []
    real = units.parse_python

    def counting(text: str):  # the real parser, counted
        parses.append(text)
        return real(text)

    monkeypatch.setattr(parsed, "parse_python", counting)
    monkeypatch.setattr(context_pack, "parse_python", counting)
    forget()
    with parsed.workspace_snapshot():
        within = plans(root)
        resolved = context_pack.current_snapshot()
        assert resolved is not None and resolved.resolved  # imports were resolved, once each
    assert within == without
    nonempty = [t for t in parses if t]
    assert len(nonempty) == len(set(nonempty)) == sum(1 for t in FILES.values() if t)
    assert context_pack.current_snapshot() is None  # nothing outlives the snapshot

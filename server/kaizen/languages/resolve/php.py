"""PHP ``require`` / ``include`` (a path, relative to the file or ``__DIR__``) and ``use``
(a namespaced class, mapped to a file through composer.json's PSR-4 ``autoload`` prefixes,
else by its path under the workspace: ``App\\Models\\User`` -> .../App/Models/User.php or
.../Models/User.php). Classes outside the workspace (vendor/) are libraries."""

from __future__ import annotations

from pathlib import Path

from .base import existing, read_jsonc

JOIN = "\\"


def _psr4(root: Path) -> list[tuple[str, Path]]:
    data = read_jsonc(root / "composer.json")
    out: list[tuple[str, Path]] = []
    for section in ("autoload", "autoload-dev"):
        block = data.get(section)
        psr4 = block.get("psr-4") if isinstance(block, dict) else None
        if isinstance(psr4, dict):
            for prefix, dirs in psr4.items():
                for d in dirs if isinstance(dirs, list) else [dirs]:
                    out.append((str(prefix), root / str(d)))
    return sorted(out, key=lambda x: -len(x[0]))


def resolve(spec: str, here: Path, root: Path | None) -> list[Path]:
    text = spec.strip().strip("'\"")
    if "/" in text or text.endswith(".php"):  # require/include of a path
        rel = text.replace("__DIR__ . '", "").replace('__DIR__ . "', "").lstrip("/")
        bases = [here.parent] + ([root] if root is not None else [])
        return existing((b / rel for b in bases), root)[:1]
    name = text.removeprefix("function ").removeprefix("const ").lstrip("\\")
    if root is None or not name:
        return []
    parts = name.split("\\")
    candidates: list[Path] = []
    for prefix, directory in _psr4(root):
        if name.startswith(prefix):
            rest = name[len(prefix) :].split("\\")
            candidates.append(directory.joinpath(*rest).with_suffix(".php"))
    for start in range(len(parts)):  # no autoload map: the class's path under the root
        for base in (root, root / "src", root / "app"):
            candidates.append(base.joinpath(*parts[start:]).with_suffix(".php"))
    return existing(candidates, root)[:1]


def neighbours(here: Path, root: Path | None) -> list[Path]:
    return []

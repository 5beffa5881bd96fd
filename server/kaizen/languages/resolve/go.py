"""Go imports: the module path in go.mod, package directories, the files of one package.

``import "example.com/shop/util"`` in a module declared ``module example.com/shop`` is the
directory util/ next to go.mod; every non-test .go file there is the package. A file also
sees, without any import, everything its own package's other files define. Import paths
outside the module are libraries (standard library, other modules).
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import files_in, find_up, read_text

_MODULE = re.compile(r"^\s*module\s+(\S+)", re.M)


def _go_files(directory: Path, root: Path | None) -> list[Path]:
    return [p for p in files_in(directory, (".go",), root) if not p.name.endswith("_test.go")]


def module_of(here: Path, root: Path | None) -> tuple[str, Path] | None:
    """(module path, directory of go.mod) for the file, or None outside a module."""
    gomod = find_up(here, root, ("go.mod",))
    if gomod is None:
        return None
    m = _MODULE.search(read_text(gomod))
    return (m.group(1).strip('"'), gomod.parent) if m else None


def resolve(spec: str, here: Path, root: Path | None) -> list[Path]:
    """The files of the package ``spec`` when it is in this module; [] otherwise."""
    found = module_of(here, root)
    if found is None:
        return []
    module, base = found
    if spec == module:
        return _go_files(base, root)
    if not spec.startswith(module + "/"):
        return []
    return _go_files(base / spec[len(module) + 1 :], root)


def neighbours(here: Path, root: Path | None) -> list[Path]:
    """The other files of the same package (its directory; tests see the tests too)."""
    files = _go_files(here.parent, root)
    if here.name.endswith("_test.go"):
        files += [p for p in files_in(here.parent, ("_test.go",), root) if p not in files]
    return [p for p in files if p != here]

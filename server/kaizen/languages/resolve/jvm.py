"""Java and Kotlin imports: a package path is a directory under a source root.

``import com.shop.util.Prices;`` is ``com/shop/util/Prices.java`` under some source root
(src/main/java, src, ...). The source root is found without configuration: it is the
ancestor of the importing file under which the import's directory exists. Kotlin's
top-level functions (``import com.shop.util.roundPrice``) live in any .kt file of the
package directory, so an import that is not a file name is the whole package; ``.*``
imports are the whole package too, and a static import (``Prices.round``) is the class's
file. The classes of the importing file's own package (its directory) need no import.
"""

from __future__ import annotations

from pathlib import Path

from .base import ancestors, existing, files_in

SUFFIXES = (".java", ".kt", ".kts")


def resolve(spec: str, here: Path, root: Path | None) -> list[Path]:
    parts = [p for p in spec.removesuffix(".*").split(".") if p]
    wildcard = spec.endswith(".*")
    if not parts:
        return []
    for base in ancestors(here, root):
        if wildcard:
            directory = base.joinpath(*parts)
            if directory.is_dir():
                return files_in(directory, SUFFIXES, root)
            continue
        # the class file, then a static import's class, then a Kotlin package member
        for cut in range(len(parts), 0, -1):
            target = base.joinpath(*parts[:cut])
            found = existing((target.with_name(target.name + s) for s in SUFFIXES), root)
            if found:
                return found[:1]
        package = base.joinpath(*parts[:-1])
        if len(parts) > 1 and package.is_dir() and package != here.parent:
            members = files_in(package, (".kt", ".kts"), root)
            if members:
                return members
    return []


def neighbours(here: Path, root: Path | None) -> list[Path]:
    """The other files of the same package: its directory."""
    return [p for p in files_in(here.parent, SUFFIXES, root) if p != here]

"""C and C++ includes: ``#include "x.h"`` relative to the including file, then the include
directories of compile_commands.json (``-I``, ``-iquote``, ``-isystem``) when the workspace
has one (at its root or in build/), then the workspace's own include/ and src/.

A header holds the prototypes; the source file beside it (x.h -> x.c, x.cpp) is searched too,
for definitions the header only declares (the pack takes their signature, never the body). System
headers (``<stdio.h>``) resolve to nothing in the workspace: libraries.
"""

from __future__ import annotations

import json
import shlex
from functools import lru_cache
from pathlib import Path

from .base import existing, mtime

HEADERS = (".h", ".hh", ".hpp", ".hxx")
SOURCES = (".c", ".cc", ".cpp", ".cxx")
COMPILE_COMMANDS = ("compile_commands.json", "build/compile_commands.json")


@lru_cache(maxsize=16)
def _include_dirs(path: str, _mtime: int) -> tuple[Path, ...]:
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return ()
    dirs: list[Path] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        args = entry.get("arguments")
        if not isinstance(args, list):
            try:
                args = shlex.split(str(entry.get("command", "")))
            except ValueError:
                continue
        directory = Path(str(entry.get("directory", Path(path).parent)))
        it = iter(str(a) for a in args)
        for arg in it:
            value = None
            for flag in ("-I", "-iquote", "-isystem"):
                if arg == flag:
                    value = next(it, None)
                elif arg.startswith(flag) and len(arg) > len(flag):
                    value = arg[len(flag) :]
            if value:
                d = Path(value) if Path(value).is_absolute() else directory / value
                if d not in dirs:
                    dirs.append(d)
    return tuple(dirs)


def include_dirs(root: Path | None) -> list[Path]:
    """The include directories the workspace's build uses (compile_commands.json), else the
    conventional include/ and src/."""
    if root is None:
        return []
    for name in COMPILE_COMMANDS:
        cc = root / name
        if cc.is_file():
            return list(_include_dirs(str(cc), mtime(cc)))
    return [root / "include", root / "src", root]


def resolve(spec: str, here: Path, root: Path | None) -> list[Path]:
    name = spec.strip().strip('"<>')
    if not name:
        return []
    found = existing([here.parent / name, *(d / name for d in include_dirs(root))], root)[:1]
    if found and found[0].suffix in HEADERS:  # its definitions, where the header only declares
        stem = found[0].with_suffix("")
        found += existing((stem.with_suffix(s) for s in SOURCES), root)
    return found


def neighbours(here: Path, root: Path | None) -> list[Path]:
    """A source file's own header (x.c -> x.h) declares what it defines: nothing else is
    visible without an include."""
    return []

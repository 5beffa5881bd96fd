"""What a long-running server must not accumulate, counted for ``kaizen.getStatus``.

The soak benchmark (benchmarks/bench_soak.py) asks for these counts after warm-up and at
the end of thousands of saves: asyncio tasks, threads by name, file descriptors by what
they point at, and on request the live objects by type. With ``KAIZEN_TRACEMALLOC=N`` in
the environment the server traces allocations (N frames deep) from start-up, and
``{"traceSnapshot": path}`` writes a tracemalloc snapshot there, so a growth can be traced
to the lines that allocated it (the benchmark's ``--trace``). Tracing costs time and
memory: it is off unless asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import os
import re
import sys
import threading
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

TRACE_ENV = "KAIZEN_TRACEMALLOC"
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2
_NUMBERED = re.compile(r"[-_ ]?\d+(?:_\d+)*\b|\(\w+\)")


def long_running() -> None:
    """Prepare the process for a long life, before its threads start: cap glibc's malloc
    arenas (``MALLOC_ARENA_MAX`` in the environment wins), and trace allocations from
    start-up when the environment asks for it.

    glibc gives each thread that allocates concurrently an arena of its own, up to eight
    per core, and memory freed in one arena serves only that arena again. The worker
    threads, pygls' reader and SQLite's page caches then leave free but fragmented memory
    in every arena, and the resident size grew with it over thousands of saves (the soak
    benchmark: free-but-kept heap 2.5 -> 25.8 MB over 2,000 saves with the default, about
    half that with two arenas). A Python server's threads mostly hold the GIL, so two
    arenas cost it no measurable contention."""
    if not os.environ.get("MALLOC_ARENA_MAX"):
        with contextlib.suppress(OSError, AttributeError, TypeError):
            ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS)
    if (frames := os.environ.get(TRACE_ENV)) and not tracemalloc.is_tracing():
        tracemalloc.start(max(1, int(frames) if frames.isdigit() else 1))


def counts(protocol: Any, objects: bool = False, snapshot: str | None = None) -> dict[str, Any]:
    """Tasks, threads and fds (totals and by kind), the handler futures and progress tokens
    pygls holds (``protocol``: the server's); live objects by type when asked; a
    tracemalloc snapshot written to ``snapshot`` when tracing is on."""
    threads = [t.name for t in threading.enumerate()]
    fds = _fds()
    out: dict[str, Any] = {
        "tasks": len(asyncio.all_tasks()),
        "handlerFutures": len(protocol._request_futures),  # this request's own among them
        "progressTokens": len(protocol.progress.tokens),
        "threads": len(threads),
        "fds": sum(fds.values()),
        "pythonBlocks": sys.getallocatedblocks(),  # Python's own allocator, objects alive
        "threadNames": dict(Counter(_NUMBERED.sub("", name) for name in threads)),
        "fdKinds": fds,
    }
    if heap := _malloc():
        out["mallocKb"] = heap
    if objects:
        gc.collect()
        by_type = Counter(type(o).__name__ for o in gc.get_objects())
        out["objects"] = dict(by_type.most_common(40))
        out["objectsTotal"] = sum(by_type.values())
    if snapshot and tracemalloc.is_tracing():
        gc.collect()
        tracemalloc.take_snapshot().dump(snapshot)
        out["traceSnapshot"] = snapshot
    return out


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _malloc() -> dict[str, int]:
    """glibc's C heap (every arena): in use, free but kept, and mmapped blocks, in kB. Most
    of what a Python process holds outside Python's own arenas (SQLite's page caches,
    tree-sitter, large strings and lists) is malloc'd here; empty off glibc."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError, TypeError):  # not glibc (2.33+)
        return {}
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {
        "inUse": info.uordblks // 1024,
        "free": info.fordblks // 1024,
        "mmapped": info.hblkhd // 1024,
    }


def _fds() -> dict[str, int]:
    """Open file descriptors by what they are: files by name, sockets, pipes."""
    kinds: Counter[str] = Counter()
    folder = Path("/proc/self/fd")
    if not folder.is_dir():  # not Linux: the count alone is unknown here
        return {}
    for entry in folder.iterdir():
        try:
            target = os.readlink(entry)
        except OSError:  # the listing's own fd, closed by now
            continue
        if target.startswith("/"):  # a file by its name (numbers folded: temporary files)
            kinds["file " + _NUMBERED.sub("", Path(target).name)] += 1
        else:
            kinds[target.split(":", 1)[0]] += 1
    return dict(kinds)

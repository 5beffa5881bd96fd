"""One bounded, least-recently-used map for the caches a long-running server keeps.

A language server lives for days: every cache it fills per document, per text or per run
must have a bound, or memory grows with every save (benchmarks/bench_soak.py counts it).
Parses, trees, plans and remembered fixes each kept an ``OrderedDict`` with its own
eviction loop and its own lock; this is the one implementation they share. Reads and
writes take a lock because the caches are filled from worker threads
(``asyncio.to_thread``) as well as from the event loop.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` entries; reading or writing one makes it the most recent, and a
    write beyond the bound drops the least recently used."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"an LRU needs room for one entry at least, not {size}")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._items.pop(key, None)

    def drop(self, matches: Callable[[K], bool]) -> int:
        """Drop the entries whose key ``matches`` (a closed document's); returns how many."""
        with self._lock:
            gone = [key for key in self._items if matches(key)]
            for key in gone:
                del self._items[key]
            return len(gone)

    def values(self) -> list[V]:
        """A copy, oldest first (iterating it does not hold the lock)."""
        with self._lock:
            return list(self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

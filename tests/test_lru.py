"""The one bounded cache (core/lru.py) the parse, tree, plan and fix caches share."""

from __future__ import annotations

import pytest

from kaizen.core.lru import LRU


def test_keeps_the_most_recently_used_within_its_bound():
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a read makes "a" the most recent
    cache.put("c", 3)  # so "b" goes
    assert "b" not in cache and cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)
    cache.put("a", 10)  # a write replaces and refreshes
    cache.put("d", 4)
    assert cache.values() == [10, 4]


def test_drop_and_pop():
    cache: LRU[tuple[str, str], int] = LRU(8)
    for doc in ("x", "y"):
        for lang in ("go", "ts"):
            cache.put((doc, lang), len(cache))
    assert cache.drop(lambda key: key[0] == "x") == 2
    assert cache.values() == [2, 3]
    assert cache.pop(("y", "go")) == 2 and cache.pop(("y", "go")) is None
    cache.clear()
    assert len(cache) == 0


def test_a_cache_needs_room():
    with pytest.raises(ValueError, match="one entry"):
        LRU(0)

"""The hashing embedder's fast path gives the vectors of the plain algorithm bit for bit.

Stored insight vectors, the contextual router's basis and its learned statistics were all
made with the plain algorithm (every feature weighted, then added to its bucket in the
order the features were first counted); a faster embedder must not move any of them.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from pathlib import Path

import pytest

from kaizen.core import embed
from kaizen.core.embed import STOPWORDS, HashingEmbedder, normalise

_WORD = re.compile(r"\w+", re.UNICODE)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[^\W\d_A-Z]+|[A-Z]+|\d+")
_WEIGHTS = {"w": 1.0, "s": 0.6, "c": 0.25}


def reference(text: str, dim: int) -> list[float]:
    """The embedder as first written: every occurrence of every word counted one by one."""
    counts: dict[str, int] = {}
    for match in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        raw = match.group().strip("_")
        word = raw.lower()
        if not word or word in STOPWORDS:
            continue
        counts["w:" + word] = counts.get("w:" + word, 0) + 1
        parts = [p.lower() for chunk in raw.split("_") for p in _CAMEL.findall(chunk)]
        if len(parts) > 1:
            for part in parts:
                if part not in STOPWORDS:
                    counts["s:" + part] = counts.get("s:" + part, 0) + 1
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            counts["c:" + padded[i : i + 3]] = counts.get("c:" + padded[i : i + 3], 0) + 1
    vector = [0.0] * dim
    for feature, n in counts.items():
        h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        weight = _WEIGHTS[feature[0]] * (1.0 + math.log(n))
        vector[(h >> 1) % dim] += (1.0 if h & 1 else -1.0) * weight
    return normalise(vector)


TEXTS = [
    "",
    "the and of",  # stopwords only: a zero vector
    "parse_config parseConfig configParser HTTPServer2 __init__ _private x",
    "Größe straße ﬁle İstanbul ǅemal café CAFÉ Ω ½ ① x²",  # NFKC and case folding
    "retry retry retry retry backoff " * 50,
    Path(embed.__file__).read_text(encoding="utf-8"),  # real code, repeated identifiers
    Path(__file__).read_text(encoding="utf-8")[:2000],
]


@pytest.mark.parametrize("dim", [8, 384, 1024])
def test_vectors_equal_the_plain_algorithm_bit_for_bit(dim: int) -> None:
    embedder = HashingEmbedder(dim)
    for text in TEXTS * 2:  # the second pass answers from the word and slot caches
        fast = embedder.embed_one(text)
        assert [x.hex() for x in fast] == [x.hex() for x in reference(text, dim)], text[:40]


def test_features_keep_their_weights_and_order() -> None:
    text = TEXTS[5]
    weighted = embed.features(text)
    assert weighted  # real code has features
    vector = [0.0] * 384
    for feature, weight in weighted.items():
        slot, sign = embed._slot(feature, 384)
        vector[slot] += sign * weight
    assert normalise(vector) == reference(text, 384)


def test_the_slot_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "_MAX_SLOTS", 50)
    monkeypatch.setattr(embed, "_SLOTS", {})
    embedder = HashingEmbedder(64)
    for text in TEXTS:
        assert embedder.embed_one(text) == reference(text, 64)
        assert len(embed._SLOTS[64]) <= 50 + len(embed.features(text))

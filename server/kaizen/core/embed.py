"""Embedders: turn insight text into unit vectors for the vector half of hybrid search.

Two kinds share one protocol. ``HashingEmbedder`` is the offline default: it needs no
download and no network, is deterministic across processes and machines (blake2b, never
``hash()``), and is good enough to find insights that share vocabulary, identifiers or word
stems. ``LiteLLMEmbedder`` uses a provider's embedding model when the user configured one.
The embedder's ``name`` is stored with the index so that switching embedders re-embeds.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps texts to L2-normalised vectors of a fixed dimension."""

    # Read-only members: an embedder may learn its dimension lazily (a property).
    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def insight_text(summary: str, detail: str) -> str:
    """The text embedded for one insight; one definition so indexing and re-embedding agree."""
    return f"{summary}\n{detail}" if detail else summary


def normalise(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to unit length (a zero vector stays zero: it matches nothing)."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if norm == 0.0:
        return [0.0] * len(vector)
    return [x / norm for x in vector]


# Words so common in review prose that they would make unrelated texts look alike.
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could",
        "do", "does", "for", "from", "has", "have", "if", "in", "into", "is", "it", "its",
        "itself", "may", "might", "must", "no", "not", "of", "on", "or", "should", "so",
        "such", "than", "that", "the", "their", "then", "there", "these", "they", "this",
        "those", "to", "too", "use", "used", "uses", "using", "was", "we", "were", "when",
        "where", "which", "while", "who", "will", "with", "would", "you", "your",
    }
)

_WORD = re.compile(r"\w+", re.UNICODE)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[^\W\d_A-Z]+|[A-Z]+|\d+")

# Weight per kind of feature: whole words dominate, identifier sub-tokens and character
# trigrams add the fuzzy overlap (``parse_config`` ~ ``parseConfig`` ~ ``config parser``).
_WEIGHTS = {"w": 1.0, "s": 0.6, "c": 0.25}
_NGRAM = 3


def features(text: str) -> dict[str, float]:
    """Weighted features of ``text``: words, identifier sub-tokens, character trigrams.

    Repeats are dampened (``1 + ln count``) so one repeated word cannot dominate a text.
    """
    # Each distinct word is featurised once and its features counted as often as the word
    # occurs (code repeats its identifiers: this is most of an embedding's cost). Words go
    # in the order of their first occurrence, so the features keep the order (and the
    # vector the exact floating-point sums) of counting them occurrence by occurrence.
    occurrences: dict[str, int] = {}
    for match in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        raw = match.group()
        occurrences[raw] = occurrences.get(raw, 0) + 1
    counts: dict[str, int] = {}
    for raw, times in occurrences.items():
        for feature, n in _word_features(raw):
            counts[feature] = counts.get(feature, 0) + n * times
    return {f: _WEIGHTS[f[0]] * (1.0 + math.log(n)) for f, n in counts.items()}


def _word_features(token: str) -> tuple[tuple[str, int], ...]:
    """The features one occurrence of ``token`` (a ``\\w+`` match) adds, in the order they
    are first counted, with how many times each is added."""
    raw = token.strip("_")
    word = raw.lower()
    if not word or word in STOPWORDS:
        return ()
    counts: dict[str, int] = {"w:" + word: 1}
    parts = [p.lower() for chunk in raw.split("_") for p in _CAMEL.findall(chunk)]
    if len(parts) > 1:
        for part in parts:
            if part not in STOPWORDS:
                counts["s:" + part] = counts.get("s:" + part, 0) + 1
    padded = f"<{word}>"
    for i in range(len(padded) - _NGRAM + 1):
        gram = "c:" + padded[i : i + _NGRAM]
        counts[gram] = counts.get(gram, 0) + 1
    return tuple(counts.items())


@lru_cache(maxsize=1 << 18)
def _slot(feature: str, dim: int) -> tuple[int, float]:
    """Bucket and sign of a feature: stable across processes, unlike ``hash()``."""
    h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return (h >> 1) % dim, (1.0 if h & 1 else -1.0)


class HashingEmbedder:
    """Signed feature hashing into ``dim`` buckets, L2-normalised. Offline and deterministic.

    The random sign makes colliding features cancel out on average instead of adding up.
    """

    def __init__(self, dim: int = 384) -> None:
        if dim < 8:
            raise ValueError("dim must be at least 8")
        self.dim = dim
        self.name = f"kaizen-hash-v1-{dim}"

    def embed_one(self, text: str) -> list[float]:
        """One text's vector (~65 us for a review sentence; the hash of a feature is cached)."""
        vector = [0.0] * self.dim
        for feature, weight in features(text).items():
            slot, sign = _slot(feature, self.dim)
            vector[slot] += sign * weight
        return normalise(vector)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]


class LiteLLMEmbedder:
    """A provider's embedding model through ``litellm.embedding``; dim learned on first use.

    litellm is imported on first use, not at import time, so starting the server stays fast
    and offline (``LITELLM_LOCAL_MODEL_COST_MAP`` stops it fetching the cost map).
    """

    def __init__(
        self, model: str, api_base: str | None = None, api_key: str | None = None
    ) -> None:
        self.model = model
        self.api_base = api_base
        self._api_key = api_key
        self.name = f"litellm:{model}"
        self._dim: int | None = None

    @property
    def known_dim(self) -> int | None:
        """The dimension if an answer has been seen, else None (asking costs a call)."""
        return self._dim

    @property
    def dim(self) -> int:
        """The provider's dimension; asks once with a probe text if nothing was embedded yet."""
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        kwargs: dict[str, Any] = {"model": self.model, "input": list(texts)}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        response = litellm.embedding(**kwargs)
        items = sorted(response.data, key=lambda item: _field(item, "index") or 0)
        vectors = [normalise([float(x) for x in _field(item, "embedding")]) for item in items]
        if len(vectors) != len(texts):
            raise RuntimeError(f"{self.name}: {len(vectors)} vectors for {len(texts)} texts")
        dims = {len(v) for v in vectors}
        if len(dims) != 1 or (self._dim is not None and dims != {self._dim}):
            raise RuntimeError(f"{self.name} returned vectors of dimension {sorted(dims)}")
        self._dim = dims.pop()
        return vectors


def _field(item: Any, key: str) -> Any:
    """litellm answers with dicts or with objects depending on provider and version."""
    return item[key] if isinstance(item, dict) else getattr(item, key)


def make_embedder(
    model: str | None, api_base: str | None = None, api_key: str | None = None
) -> Embedder:
    """The configured provider embedder, else the offline hashing embedder."""
    if model:
        return LiteLLMEmbedder(model, api_base=api_base, api_key=api_key)
    return HashingEmbedder()

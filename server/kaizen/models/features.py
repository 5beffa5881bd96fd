"""What the contextual router knows of a task before it calls a model: a feature vector.

A task is described by its type, language, size in tokens, a few code features when the
content is code, and a text embedding of the content (the offline ``HashingEmbedder`` by
default, any ``Embedder`` when one is given). The embedding is reduced by a *basis*: the
mean and top principal directions of the first embeddings the router saw, fitted once and
then frozen (and persisted), because

- a linear model over the raw 1,024-dimensional hashing embedding is too costly per
  decision (d^2 per model) and learns slowly from the few outcomes a team produces;
- on the MMLU replay (benchmarks/bench_router.py) 64 principal directions fitted on 500
  unlabeled prompts routed as well as the full embedding (full-information 5-fold ridge:
  APGR 0.652 vs 0.660) and better than a seeded random projection of the same size
  under bandit feedback (online APGR 0.60 vs 0.57): the leading directions are the topics
  that carry most of the variance, and the unwhitened scale lets ridge shrink the minor
  directions hardest;
- the basis must not move once outcomes were learned in its coordinates, so it is fitted
  once; a team shares the first basis written to the database.

Pure: numpy, no database, no clock.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.embed import Embedder, HashingEmbedder
from ..core.tasks import TASKS as TASK_TABLE
from .task_context import TaskContext

# The model tasks the router knows (one-hot); anything else shares the last slot.
TASKS = tuple(TASK_TABLE)  # the one task table, in its order
LANGUAGES = ("python", "typescript", "javascript", "go", "rust", "java", "c", "cpp")
EMBED_DIM = 1024  # fewer collisions than the index's 384: measured APGR 0.66 vs 0.62
BASIS_SIZE = 500  # embeddings seen before the basis is fitted
BASIS_RANK = 64
MAX_EMBED_CHARS = 2000  # the head of a long document: featurising stays ~1.5 ms CPU
_CODE_FEATURES = 5
_BIAS = 3.0  # the intercept's feature value: large, so ridge barely shrinks it


_WORD = re.compile(r"[A-Za-z_]\w*")


def code_features(text: str) -> list[float]:
    """Five cheap, bounded features of code: size in lines, line length, indentation
    depth, comment share and symbol density (all roughly in [0, 1])."""
    lines = text.splitlines()[:2000]
    if not lines:
        return [0.0] * _CODE_FEATURES
    lengths = [len(line) for line in lines]
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    comments = sum(1 for line in lines if line.lstrip().startswith(("#", "//", "/*", "*")))
    sample = text[:MAX_EMBED_CHARS]
    symbols = sum(1 for c in sample if not c.isalnum() and not c.isspace())
    return [
        math.log1p(len(lines)) / 8,
        min(1.0, (sum(lengths) / len(lengths)) / 100),
        min(1.0, (sum(indents) / len(indents) if indents else 0.0) / 16),
        comments / len(lines),
        symbols / max(1, len(sample)),
    ]


def _one_hot(value: str, names: Sequence[str]) -> list[float]:
    out = [0.0] * (len(names) + 1)
    out[names.index(value) if value in names else len(names)] = 1.0
    return out


def structured(ctx: TaskContext) -> list[float]:
    """Task type, language, size and code features: the part that needs no basis."""
    is_code = ctx.is_code if ctx.is_code is not None else bool(ctx.language)
    code = code_features(ctx.text) if is_code else [0.0] * _CODE_FEATURES
    return [
        *_one_hot(ctx.task, TASKS),
        *_one_hot(ctx.language.lower(), LANGUAGES),
        math.log1p(ctx.token_count) / 8,
        *code,
    ]


STRUCTURED_DIM = len(TASKS) + 1 + len(LANGUAGES) + 1 + 1 + _CODE_FEATURES


@dataclass
class Basis:
    """Mean and principal directions of embeddings; ``id`` names the coordinate system
    that learned statistics belong to."""

    mean: np.ndarray  # (embed_dim,)
    components: np.ndarray  # (rank, embed_dim)
    scale: float  # so that projected vectors have mean norm 1
    embedder: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def rank(self) -> int:
        return int(self.components.shape[0])

    def project(self, vector: np.ndarray) -> np.ndarray:
        return (self.components @ (vector - self.mean)) / self.scale


def fit_basis(embeddings: np.ndarray, embedder: str, rank: int = BASIS_RANK) -> Basis:
    """The top ``rank`` principal directions of ``embeddings`` (rows), unwhitened."""
    mean = embeddings.mean(axis=0)
    centred = embeddings - mean
    # Through the small Gram matrix (samples x samples): ~30x faster than an SVD of the
    # samples x 1,024 matrix, the same directions.
    values, vectors = np.linalg.eigh(centred @ centred.T)
    top = np.argsort(values)[::-1][:rank]
    keep = top[values[top] > 1e-9 * max(1.0, float(values.max()))]
    components = (centred.T @ vectors[:, keep] / np.sqrt(values[keep])).T
    if components.shape[0] < rank:  # fewer samples than the rank: pad with zeros
        pad = np.zeros((rank - components.shape[0], embeddings.shape[1]))
        components = np.vstack([components, pad])
    projected = centred @ components.T
    scale = float(np.sqrt((projected**2).sum(axis=1).mean())) or 1.0
    return Basis(mean, components, scale, embedder)


def feature_dim(rank: int = BASIS_RANK) -> int:
    return rank + STRUCTURED_DIM + 1


class Featurizer:
    """Text -> embedding -> features. Until a basis exists, embeddings are collected
    (``pending``) so that the first ``basis_size`` of them fit it."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        basis_size: int = BASIS_SIZE,
        rank: int = BASIS_RANK,
    ) -> None:
        self.embedder = embedder or HashingEmbedder(EMBED_DIM)
        self.basis_size = basis_size
        self.rank = rank
        self.basis: Basis | None = None
        self.pending: list[Embedding] = []
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return feature_dim(self.rank)

    def embed(self, text: str) -> np.ndarray:
        """The embedding of ``text``'s head, cached by content (two tasks of one run
        share a document)."""
        head = text[:MAX_EMBED_CHARS]
        key = hashlib.blake2b(head.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        if (hit := self._cache.get(key)) is not None:
            return hit
        vector = np.asarray(self.embedder.embed([head])[0], dtype=np.float64)
        if len(self._cache) >= 256:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = vector
        return vector

    def deferred(self, text: str) -> Deferred | None:
        """``text``'s embedding as a promise, or None when it must be made now.

        Until a basis exists a routed task's embedding is only kept: toward the basis
        (``pending``) and for outcomes learned once it exists. With the offline hashing
        embedder (pure: the same text, the same vector; it cannot fail) it is made when
        first needed instead: a ``kaizen check`` on a fresh database routes every batch
        before any basis exists and never needs one. A provider's embedder is asked at
        once, so its failure stays the routing's (``route_context``)."""
        if not isinstance(self.embedder, HashingEmbedder):
            return None
        return Deferred(self, text[:MAX_EMBED_CHARS])

    def features(self, ctx: TaskContext, embedding: np.ndarray | None = None) -> np.ndarray:
        """The feature vector (requires a basis)."""
        assert self.basis is not None
        e = self.embed(ctx.text) if embedding is None else embedding
        return assemble(self.basis.project(e), structured(ctx))

    def observe_embedding(self, embedding: Embedding) -> Basis | None:
        """Collect one embedding toward the basis; returns the basis when it was just fitted."""
        if self.basis is not None:
            return None
        self.pending.append(embedding)
        if len(self.pending) < self.basis_size:
            return None
        vectors = [resolve(e) for e in self.pending]  # in the order they were routed
        self.basis = fit_basis(np.vstack(vectors), self.embedder.name, self.rank)
        self.pending = []
        return self.basis


class Deferred:
    """An embedding made when first asked for (``Featurizer.deferred``), then kept."""

    __slots__ = ("_featurizer", "_text", "_vector")

    def __init__(self, featurizer: Featurizer, text: str) -> None:
        self._featurizer = featurizer
        self._text = text  # at most MAX_EMBED_CHARS: lighter than the 8 kB vector
        self._vector: np.ndarray | None = None

    def value(self) -> np.ndarray:
        if self._vector is None:  # two threads may both make it: the same vector
            self._vector = self._featurizer.embed(self._text)
        return self._vector


Embedding = np.ndarray | Deferred


def resolve(embedding: Embedding) -> np.ndarray:
    """The vector of an embedding made now or deferred."""
    return embedding.value() if isinstance(embedding, Deferred) else embedding


def assemble(projected: np.ndarray, structured_part: Sequence[float]) -> np.ndarray:
    return np.concatenate([projected, np.asarray(structured_part, dtype=np.float64), [_BIAS]])


BIAS_VALUE = _BIAS

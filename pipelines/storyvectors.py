"""Story terms as vectors: an article's, a story's centroid, and the TF-IDF cosine of the two.

The store keeps an article's terms and a story's centroid as keys (a 32-bit hash of the
term) with weights, and the document frequency of every key (db.storyterms). The inverse
document frequency is applied only when two vectors are compared, with the store's counts
of that moment: vectors never need re-weighting as the store grows.

- An article's weights are its terms' sublinear counts, 1 + ln(count), scaled to length 1.
- A story's centroid is the sum of its articles' vectors, cut to its CENTROID_TERMS
  heaviest terms: each member counts once, whatever its length.
- The IDF is smoothed, ln((1 + N) / (1 + df)) + 1, so that a term seen in every document
  still counts a little and a young store (N small) compares on plain counts.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from db.records import DOCUMENTS_KEY

# The heaviest terms a centroid keeps: about one article's worth, so that a large story
# costs no more to compare than a small one.
CENTROID_TERMS = 64
# A stored vector: little-endian (key, weight) pairs.
_DTYPE = np.dtype([("key", "<u4"), ("weight", "<f4")])

Vector = dict[int, float]


# Cached: news reuses its words, and a key is asked for each term of each article.
@functools.lru_cache(maxsize=1 << 16)
def term_key(term: str) -> int:
    """A term's 32-bit key; never DOCUMENTS_KEY."""
    key = int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")
    return 1 if key == DOCUMENTS_KEY else key  # that row counts the documents


def article_vector(terms: Iterable[tuple[str, int]]) -> Vector:
    """An article's unit vector of sublinear term counts, by term key."""
    weights: Vector = {}
    for term, count in terms:
        key = term_key(term)
        weights[key] = weights.get(key, 0.0) + 1.0 + math.log(count)
    return _unit(weights)


def _unit(weights: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {key: w / norm for key, w in weights.items()} if norm else {}


def add_to_centroid(centroid: Vector, vector: Vector) -> Vector:
    """CENTROID with one more member (or a merged story's centroid) added, cut to size."""
    summed = dict(centroid)
    for key, weight in vector.items():
        summed[key] = summed.get(key, 0.0) + weight
    heaviest = sorted(summed.items(), key=lambda kv: (-kv[1], kv[0]))[:CENTROID_TERMS]
    return dict(heaviest)


def pack(vector: Vector) -> bytes:
    array = np.fromiter(vector.items(), dtype=_DTYPE, count=len(vector))
    return array.tobytes()


def unpack(blob: bytes | None) -> Vector:
    if not blob:
        return {}
    array = np.frombuffer(blob, dtype=_DTYPE)
    return dict(zip(array["key"].tolist(), array["weight"].tolist(), strict=True))


def idf_weights(
    keys: Iterable[int], frequencies: Mapping[int, int], documents: int
) -> dict[int, float]:
    """The IDF of each of KEYS, ln((1 + N) / (1 + df)) + 1, from the store's counts of one
    moment (FREQUENCIES by key, N = DOCUMENTS): once per key of a look-up, which weighs all
    its candidate centroids with them."""
    total, log, get = 1.0 + documents, math.log, frequencies.get
    return {key: log(total / (1 + get(key, 0))) + 1.0 for key in keys}


def weighted(vector: Vector, weights: Mapping[int, float]) -> tuple[Vector, float]:
    """VECTOR with its IDF weights applied, and the result's length."""
    scaled = {key: w * weights[key] for key, w in vector.items()}
    return scaled, math.sqrt(sum(w * w for w in scaled.values()))


def shared_cosine(
    article: tuple[Vector, float], centroid: Vector, norm: float, weights: Mapping[int, float]
) -> tuple[float, dict[int, float]]:
    """The cosine of a weighted article (weighted's result) and a centroid whose weighted
    length NORM is known, and what each shared key adds to it. Only the shared keys, all of
    them the article's, need a weight: an article compared with several centroids is
    weighted once, and a centroid's length can be kept (CentroidNorms)."""
    mine, mine_norm = article
    denominator = mine_norm * norm
    if not denominator:
        return 0.0, {}
    shared = {
        key: w * centroid[key] * weights[key] / denominator
        for key, w in mine.items()
        if key in centroid
    }
    return sum(shared.values()), shared


class CentroidNorms:
    """The weighted lengths of story centroids, kept between look-ups.

    A centroid's length needs the document frequency of each of its terms, where the match
    itself needs only the shared ones, which are all the article's. A story in the news is
    a candidate of many articles in a row, so its length is kept and used again while its
    centroid is unchanged (the same bytes) and the store has counted at most DRIFT more
    documents since: an IDF moves with ln N, so 2 % more documents move it by about 0.02,
    a fraction of a percent of the length. A young store grows faster than that from one
    article to the next, and is computed afresh; a story that gains a member changes bytes.
    """

    DRIFT = 0.02
    # About 100 bytes each; cleared when full (a look-up computes what it misses).
    KEPT = 100_000

    def __init__(self) -> None:
        self._kept: dict[int, tuple[int, int, float]] = {}

    def lengths(
        self,
        blobs: Mapping[int, bytes],
        centroids: Mapping[int, Vector],
        documents: int,
        weights_of: Callable[[set[int]], Mapping[int, float]],
    ) -> dict[int, float]:
        """The weighted length of each centroid (by story; BLOBS are their stored bytes)
        with the store at DOCUMENTS articles; those not kept are weighed with one call of
        WEIGHTS_OF, for all their keys at once."""
        lengths: dict[int, float] = {}
        for story, blob in blobs.items():
            kept = self._kept.get(story)
            if kept is not None:
                digest, counted, length = kept
                if digest == hash(blob) and counted <= documents <= counted * (1 + self.DRIFT):
                    lengths[story] = length
        missing = [story for story in blobs if story not in lengths]
        if missing:
            weights = weights_of({key for story in missing for key in centroids[story]})
            if len(self._kept) + len(missing) > self.KEPT:
                self._kept.clear()
            for story in missing:
                lengths[story] = length = weighted(centroids[story], weights)[1]
                self._kept[story] = (hash(blobs[story]), documents, length)
        return lengths


def cosine(
    first: Vector, second: Vector, frequencies: Mapping[int, int], documents: int
) -> tuple[float, dict[int, float]]:
    """The TF-IDF cosine of two vectors, and what each shared key adds to it."""
    if not first or not second:
        return 0.0, {}
    weights = idf_weights(first.keys() | second, frequencies, documents)
    return shared_cosine(weighted(first, weights), second, weighted(second, weights)[1], weights)

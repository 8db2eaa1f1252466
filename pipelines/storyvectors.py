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
from collections.abc import Iterable, Mapping

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


def weighted_cosine(
    left: tuple[Vector, float], right: tuple[Vector, float]
) -> tuple[float, dict[int, float]]:
    """The cosine of two weighted vectors with their lengths, and what each shared key
    adds to it. An article compared with several centroids is weighted once."""
    (first, first_norm), (second, second_norm) = left, right
    norm = first_norm * second_norm
    if not norm:
        return 0.0, {}
    shared = {key: w * second[key] / norm for key, w in first.items() if key in second}
    return sum(shared.values()), shared


def cosine(
    first: Vector, second: Vector, frequencies: Mapping[int, int], documents: int
) -> tuple[float, dict[int, float]]:
    """The TF-IDF cosine of two vectors, and what each shared key adds to it."""
    if not first or not second:
        return 0.0, {}
    weights = idf_weights(first.keys() | second, frequencies, documents)
    return weighted_cosine(weighted(first, weights), weighted(second, weights))

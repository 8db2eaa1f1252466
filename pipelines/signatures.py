"""MinHash signatures, band keys and fingerprints of texts: what dedup and stories compute
from a cleaned text alone. Imports numpy and the standard library only, so that the cleaning
workers, which make these beside the extraction, start without datasketch (and scipy through
it), SQLAlchemy or Scrapy."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from crawler.items import Fingerprint, StoryPrint
from pipelines.cache import cached, version_of
from pipelines.storyfeatures import StoryTerms, candidate_set
from pipelines.storyvectors import article_vector
from pipelines.textnorm import iter_words, normalize_text, words

SCHEME = "affine32"
SIGNATURE_DTYPE = np.dtype("<u4")
SEED = 1
# How a shingle becomes the 32-bit value the MinHash permutes. "sha1": datasketch's default,
# SHA-1 of the shingle's UTF-8, one call per shingle; stores made before "words64" keep it.
# "words64": BLAKE2b-64 of each distinct word, chained over the shingle's words with the
# MurmurHash3 64-bit finalizer in numpy, a few times cheaper per article.
SHINGLE_HASHES = ("sha1", "words64")
SHINGLE_HASH = "words64"
# Words whose hash the signer keeps; news reuses its vocabulary, so most words hit.
WORD_CACHE_SIZE = 1 << 17
# Shingle values permuted at a time when the MinHash minimum is taken: 4 MB of uint32
# under 128 permutations.
MIN_BLOCK = 8192
# Words hashed at a time.
WORD_BLOCK = 65536
# MurmurHash3's finalizers, (shift, multiplier, shift, multiplier, shift): the 64-bit one
# mixes shingles, the 32-bit one is how datasketch's affine32 scheme pre-mixes each value.
_FMIX64 = (
    np.uint64(33),
    np.uint64(0xFF51AFD7ED558CCD),
    np.uint64(33),
    np.uint64(0xC4CEB9FE1A85EC53),
    np.uint64(33),
)
_FMIX32 = (
    np.uint32(16),
    np.uint32(0x85EBCA6B),
    np.uint32(13),
    np.uint32(0xC2B2AE35),
    np.uint32(16),
)


@dataclass(frozen=True)
class SignatureParams:
    num_perm: int
    shingle_size: int
    seed: int = SEED
    scheme: str = SCHEME
    # A store's parameters written before there was a choice do not name it: SHA-1.
    shingle_hash: str = "sha1"

    def as_json(self) -> str:
        fields = {
            "num_perm": self.num_perm,
            "shingle_size": self.shingle_size,
            "seed": self.seed,
            "scheme": self.scheme,
        }
        if self.shingle_hash != "sha1":  # so that older stores' parameters read as before
            fields["shingle_hash"] = self.shingle_hash
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, stored: str) -> SignatureParams:
        """The parameters a store recorded; ValueError for any this version cannot use (a
        newer version's, or a damaged entry)."""
        try:
            params = cls(**json.loads(stored))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"unreadable signature parameters {stored!r}: {exc}") from exc
        if params.shingle_hash not in SHINGLE_HASHES:
            raise ValueError(f"unknown shingle hash in signature parameters {stored!r}")
        return params


def _fmix(values: np.ndarray, constants: tuple[np.unsignedinteger, ...]) -> np.ndarray:
    """A MurmurHash3 finalizer, element-wise (wrapping): a bijection that mixes every bit."""
    shift1, multiplier1, shift2, multiplier2, shift3 = constants
    values = values ^ (values >> shift1)
    values = values * multiplier1
    values = values ^ (values >> shift2)
    values = values * multiplier2
    mixed: np.ndarray = values ^ (values >> shift3)
    return mixed


def content_hash(normalized: str) -> str:
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).hexdigest()


def permutations(num_perm: int, seed: int, cache_dir: Path | None = None) -> bytes:
    """datasketch's affine32 permutations (a, b) for NUM_PERM and SEED, as uint32 bytes.
    Drawn where datasketch is loaded anyway (the crawl process, the commands) and handed to
    the signers that need them: a cleaning worker gets them with its derivations and so never
    imports datasketch, which with scipy takes about half a second of CPU to import. Kept in
    CACHE_DIR, a crawl that finds them there does not import it either."""

    def draw() -> bytes:
        from datasketch import MinHash

        drawn = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
        return np.asarray(drawn, dtype=np.uint32).tobytes()

    name = f"permutations-{SCHEME}-{num_perm}-{seed}-datasketch-{version_of('datasketch')}"
    return cached(cache_dir, name, draw)


class Signer:
    """MinHash signatures of word shingles, under the permutations given (see
    :func:`permutations`) or else drawn once per instance."""

    def __init__(self, params: SignatureParams, drawn: bytes | None = None) -> None:
        if params.shingle_hash not in SHINGLE_HASHES:
            raise ValueError(f"unknown shingle hash {params.shingle_hash!r}")
        self.params = params
        if drawn is None:
            drawn = permutations(params.num_perm, params.seed)
        self._permutations = np.frombuffer(drawn, dtype=np.uint32).reshape(2, params.num_perm)
        self._word_hashes: dict[str, int] = {}

    def shingles(self, normalized: str) -> list[bytes]:
        tokens = words(normalized)
        k = self.params.shingle_size
        if len(tokens) < k:
            return [" ".join(tokens).encode("utf-8")] if tokens else []
        return [" ".join(tokens[i : i + k]).encode("utf-8") for i in range(len(tokens) - k + 1)]

    def sign(self, normalized: str) -> bytes:
        """The stored signature of a text (SIGNATURE_DTYPE values); b"" for a text with no
        word to shingle."""
        if self.params.shingle_hash == "sha1":
            return self.sign_set(self.shingles(normalized))
        values = self.shingle_values(iter_words(normalized))
        if not len(values):
            return b""
        return self.permuted_minimum(values).astype(SIGNATURE_DTYPE, copy=False).tobytes()

    def permuted_minimum(self, values: np.ndarray) -> np.ndarray:
        """The hash values datasketch's ``update_batch`` gives VALUES (uint32) under the
        affine32 scheme with the identity as hash function: the minimum over the values of
        each permutation a·fmix32(v) + b mod 2^32. Computed here in numpy alone, because
        update_batch first calls the hash function once per value in Python, which cost as
        much as the rest of the signature (a property test checks the two agree)."""
        a, b = self._permutations
        mixed = _fmix(values, _FMIX32)
        # A block of values at a time: the whole matrix would take 4 bytes per value and
        # permutation (500 MB for the 1,000,000 shingles of a 6 MB text).
        minimum: np.ndarray = (mixed[:MIN_BLOCK, np.newaxis] * a + b).min(axis=0)
        for start in range(MIN_BLOCK, len(mixed), MIN_BLOCK):
            block = mixed[start : start + MIN_BLOCK, np.newaxis] * a + b
            np.minimum(minimum, block.min(axis=0), out=minimum)
        return minimum

    def word_hashes(self, tokens: list[str]) -> list[int]:
        """The 64-bit BLAKE2b of each word, from the cache for the words seen before."""
        cache = self._word_hashes
        try:
            return [cache[token] for token in tokens]
        except KeyError:
            if len(cache) > WORD_CACHE_SIZE:
                cache.clear()
            for token in tokens:
                if token not in cache:
                    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
                    cache[token] = int.from_bytes(digest, "little")
            return [cache[token] for token in tokens]

    def shingle_values(self, tokens: Iterable[str]) -> np.ndarray:
        """The "words64" value of each shingle of TOKENS, as uint32. The words are hashed a
        block at a time, so a long text never becomes a list of all its words (50 bytes or
        more each, against the 8 of a hash)."""
        tokens = iter(tokens)
        blocks = []
        while block := list(itertools.islice(tokens, WORD_BLOCK)):
            blocks.append(np.array(self.word_hashes(block), dtype=np.uint64))
        word_values = np.concatenate(blocks) if blocks else np.empty(0, dtype=np.uint64)
        if not len(word_values):
            return np.empty(0, dtype=np.uint32)
        # A text shorter than a shingle is one shingle of all its words, as with "sha1".
        k = min(self.params.shingle_size, len(word_values))
        count = len(word_values) - k + 1
        values = word_values[:count]
        for offset in range(1, k):
            values = _fmix(values, _FMIX64) ^ word_values[offset : offset + count]
        values = _fmix(values, _FMIX64)
        return ((values >> np.uint64(32)) ^ values).astype(np.uint32)

    def sign_set(self, items: list[bytes]) -> bytes:
        """The stored signature of a set of items: what datasketch's ``update_batch`` gives
        them with its default hash, the first four bytes of their SHA-1 (a test compares the
        two); b"" for an empty set."""
        if not items:
            return b""
        values = np.fromiter(
            (int.from_bytes(hashlib.sha1(item).digest()[:4], "little") for item in items),
            dtype=np.uint32,
            count=len(items),
        )
        return self.permuted_minimum(values).astype(SIGNATURE_DTYPE, copy=False).tobytes()


def estimated_jaccard(a: bytes, b: bytes) -> float:
    """The share of equal MinHash slots of two stored signatures."""
    left = np.frombuffer(a, dtype=SIGNATURE_DTYPE)
    right = np.frombuffer(b, dtype=SIGNATURE_DTYPE)
    if left.shape != right.shape or not len(left):
        return 0.0
    return float(np.count_nonzero(left == right)) / len(left)


Layout = tuple[int, int]  # (bands, rows per band)


def band_keys(signature: bytes, layout: Layout) -> tuple[int, ...]:
    """One 32-bit key per band of a stored signature: two signatures share a key when they
    agree on every slot of that band (up to a 2^-32 chance, which verification catches)."""
    bands, rows = layout
    width = rows * SIGNATURE_DTYPE.itemsize
    if len(signature) < bands * width:
        return ()
    # Slices of the stored bytes are the slots' little-endian values: no array per band.
    view, blake2b, from_bytes = memoryview(signature), hashlib.blake2b, int.from_bytes
    return tuple(
        from_bytes(
            blake2b(view[start : start + width], digest_size=4, salt=salt).digest(),
            "little",
            signed=True,
        )
        for start, salt in zip(range(0, bands * width, width), _band_salts(bands), strict=True)
    )


@functools.lru_cache(maxsize=8)
def _band_salts(bands: int) -> tuple[bytes, ...]:
    return tuple(band.to_bytes(2, "little") for band in range(bands))


@dataclass(frozen=True)
class TextFingerprint:
    """Dedup's derivation (crawler.items.Derivation): the Fingerprint of a cleaned text
    under the store's signature parameters, permutations (DRAWN) and band layout, made where
    the text is cleaned."""

    params: SignatureParams
    layout: Layout
    drawn: bytes
    stage: Literal["dedup"] = field(default="dedup", init=False)

    def make(self) -> Callable[[str | None, str, str | None], Fingerprint]:
        signer = Signer(self.params, self.drawn)

        def fingerprint(_title: str | None, text: str, _language: str | None) -> Fingerprint:
            normalized = normalize_text(text)
            signature = signer.sign(normalized)
            return Fingerprint(
                content_hash(normalized), signature, band_keys(signature, self.layout)
            )

        return fingerprint


# Another seed than dedup's: story and text signatures are unrelated.
STORY_SEED = 2


class StorySigner:
    """An article's story terms and the MinHash signature of its strongest ones, drawn like
    dedup's signatures but with their own seed."""

    # The story features' version, in the store's parameters: a store signed with other
    # features is signed again (pipelines/stories.py).
    FEATURES = 2

    def __init__(
        self, num_perm: int, drawn: bytes | None = None, cache_dir: Path | None = None
    ) -> None:
        self.num_perm = num_perm
        params = SignatureParams(num_perm=num_perm, shingle_size=1, seed=STORY_SEED)
        self._signer = Signer(params, drawn)
        self.terms = StoryTerms(cache_dir)

    def params_json(self) -> str:
        return json.dumps(
            {
                "num_perm": self.num_perm,
                "seed": STORY_SEED,
                "scheme": SCHEME,
                "features": self.FEATURES,
            },
            sort_keys=True,
        )

    def sign(
        self, title: str | None, text: str, language: str | None
    ) -> tuple[bytes, list[tuple[str, int]]]:
        """The stored form of an article's story signature (b"" when it has no term) and its
        story terms."""
        terms = self.terms(title, text, language)
        return self._signer.sign_set(candidate_set(terms)), terms


@dataclass(frozen=True)
class StoryFingerprint:
    """The stories stage's derivation (crawler.items.Derivation): an article's story
    terms, signature and band keys, made where the article is cleaned."""

    num_perm: int
    layout: Layout
    drawn: bytes
    cache_dir: Path | None = None
    stage: Literal["stories"] = field(default="stories", init=False)

    def make(self) -> Callable[[str | None, str, str | None], StoryPrint]:
        signer = StorySigner(self.num_perm, self.drawn, self.cache_dir)

        def fingerprint(title: str | None, text: str, language: str | None) -> StoryPrint:
            signature, terms = signer.sign(title, text, language)
            bands = band_keys(signature, self.layout) if signature else ()
            return StoryPrint(signature, bands, tuple(terms), article_vector(terms))

        return fingerprint

"""Dedup stage: exact duplicates by content hash, near-duplicates by MinHash LSH."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from db import CanonicalMatch, Store
from db.store import DEDUP_LSH
from pipelines.cleaning import CleaningPipeline
from pipelines.cputime import timed
from pipelines.storage import open_stage
from pipelines.textnorm import normalize_text, words

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

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
# LSH candidates are verified against the estimated Jaccard, so a false positive costs one
# look-up while a false negative loses a duplicate: lean the band layout toward recall.
LSH_WEIGHTS = (0.3, 0.7)
META_KEY = "minhash"
# Set by `scrapy dupes --threshold X --apply`: the threshold the stored decisions follow.
THRESHOLD_META = "dedup_threshold"


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


class Signer:
    """MinHash signatures of word shingles; the permutations are drawn once per instance."""

    def __init__(self, params: SignatureParams) -> None:
        if params.shingle_hash not in SHINGLE_HASHES:
            raise ValueError(f"unknown shingle hash {params.shingle_hash!r}")
        self.params = params
        self._permutations = MinHash(
            num_perm=params.num_perm, seed=params.seed, scheme=SCHEME
        ).permutations
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
        values = self.shingle_values(words(normalized))
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
        permuted = _fmix(values, _FMIX32)[:, np.newaxis] * a + b
        minimum: np.ndarray = permuted.min(axis=0)
        return minimum

    def shingle_values(self, tokens: list[str]) -> np.ndarray:
        """The "words64" value of each shingle of TOKENS, as uint32."""
        if not tokens:
            return np.empty(0, dtype=np.uint32)
        cache = self._word_hashes
        try:
            hashes = [cache[token] for token in tokens]
        except KeyError:
            if len(cache) > WORD_CACHE_SIZE:
                cache.clear()
            for token in tokens:
                if token not in cache:
                    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
                    cache[token] = int.from_bytes(digest, "little")
            hashes = [cache[token] for token in tokens]
        word_values = np.array(hashes, dtype=np.uint64)
        # A text shorter than a shingle is one shingle of all its words, as with "sha1".
        k = min(self.params.shingle_size, len(tokens))
        count = len(tokens) - k + 1
        values = word_values[:count]
        for offset in range(1, k):
            values = _fmix(values, _FMIX64) ^ word_values[offset : offset + count]
        values = _fmix(values, _FMIX64)
        return ((values >> np.uint64(32)) ^ values).astype(np.uint32)

    def sign_set(self, items: list[bytes]) -> bytes:
        """The stored signature of a set of items (SHA-1 of each); b"" for an empty one."""
        if not items:
            return b""
        minhash = MinHash(
            num_perm=self.params.num_perm,
            seed=self.params.seed,
            permutations=self._permutations,
            scheme=SCHEME,
        )
        minhash.update_batch(items)
        return np.asarray(minhash.hashvalues, dtype=SIGNATURE_DTYPE).tobytes()

    def from_bytes(self, signature: bytes) -> LeanMinHash:
        return LeanMinHash(
            seed=self.params.seed,
            hashvalues=np.frombuffer(signature, dtype=SIGNATURE_DTYPE),
            scheme=SCHEME,
        )


def estimated_jaccard(a: bytes, b: bytes) -> float:
    """The share of equal MinHash slots of two stored signatures."""
    left = np.frombuffer(a, dtype=SIGNATURE_DTYPE)
    right = np.frombuffer(b, dtype=SIGNATURE_DTYPE)
    if left.shape != right.shape or not len(left):
        return 0.0
    return float(np.count_nonzero(left == right)) / len(left)


Layout = tuple[int, int]  # (bands, rows per band)


def lsh_layout(threshold: float, num_perm: int) -> Layout:
    """datasketch's band layout for this threshold, leaning toward recall (LSH_WEIGHTS)."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    return lsh.b, lsh.r


def band_keys(signature: bytes, layout: Layout) -> tuple[int, ...]:
    """One 32-bit key per band of a stored signature: two signatures share a key when they
    agree on every slot of that band (up to a 2^-32 chance, which verification catches)."""
    bands, rows = layout
    values = np.frombuffer(signature, dtype=SIGNATURE_DTYPE)
    if len(values) < bands * rows:
        return ()
    return tuple(
        int.from_bytes(
            hashlib.blake2b(
                values[band * rows : (band + 1) * rows].tobytes(),
                digest_size=4,
                salt=band.to_bytes(2, "little"),
            ).digest(),
            "little",
            signed=True,
        )
        for band in range(bands)
    )


@dataclass(frozen=True)
class Fingerprint:
    """What dedup needs of a text: the hash of its normalized form, its MinHash signature
    (b"" when it has no word to shingle) and the signature's band keys."""

    content_hash: str
    signature: bytes
    bands: tuple[int, ...]


@dataclass(frozen=True)
class TextFingerprint:
    """Dedup's derivation (pipelines.cleaning.Derivation): the Fingerprint of a cleaned text
    under the store's signature parameters and band layout, made where the text is cleaned."""

    params: SignatureParams
    layout: Layout
    stage: str = field(default="dedup", init=False)

    def make(self) -> Callable[[str | None, str], Fingerprint]:
        signer = Signer(self.params)

        def fingerprint(_title: str | None, text: str) -> Fingerprint:
            normalized = normalize_text(text)
            signature = signer.sign(normalized)
            return Fingerprint(
                content_hash(normalized), signature, band_keys(signature, self.layout)
            )

        return fingerprint


def build_index(
    store: Store, lsh: int, layout: Layout, signatures: Iterable[tuple[int, bytes]]
) -> int | None:
    """Fill one LSH index of the store from SIGNATURES, unless it is already built with this
    layout: a new store, a store from before the index, or a changed threshold. Returns the
    articles indexed, or None when there was nothing to do."""
    key, wanted = f"lsh_layout_{lsh}", f"{layout[0]}x{layout[1]}"
    if store.get_meta(key) == wanted:
        return None
    store.clear_index(lsh)
    count = 0
    for article_id, signature in signatures:
        if signature:
            store.add_buckets(lsh, article_id, band_keys(signature, layout))
            count += 1
            if count % 10_000 == 0:
                store.commit()
    store.set_meta(key, wanted)
    store.commit()
    return count


def stored_layout(store: Store, lsh: int) -> Layout | None:
    """The band layout an index of the store was built with, if it was built."""
    value = store.get_meta(f"lsh_layout_{lsh}")
    if value is None:
        return None
    bands, rows = value.split("x")
    return int(bands), int(rows)


def best_match(
    signature: bytes, found: Iterable[CanonicalMatch], threshold: float
) -> tuple[CanonicalMatch, float] | None:
    """The most similar canonical at or above the threshold; ties go to the oldest."""
    best: tuple[CanonicalMatch, float] | None = None
    for match in sorted(found, key=lambda m: m.id):
        similarity = estimated_jaccard(signature, match.signature)
        if similarity >= threshold and (best is None or similarity > best[1]):
            best = (match, similarity)
    return best


class DedupPipeline:
    """Marks each item new, exact duplicate or near duplicate of a stored canonical article.

    Settings: ``NEWS_MINHASH_PERM``, ``NEWS_SHINGLE_SIZE``, ``NEWS_DEDUP_THRESHOLD``.
    Reads the store opened by :class:`pipelines.storage.StoragePipeline`, on its connection,
    so rows of the batch not yet committed count too.
    Stats: ``news/items/already_stored``.
    """

    def __init__(
        self,
        *,
        params: SignatureParams,
        threshold: float,
        crawler: Crawler | None = None,
        stats: StatsCollector | None = None,
    ) -> None:
        self.params = params
        self.threshold = threshold
        self.crawler = crawler
        self.stats = stats
        self.layout = lsh_layout(threshold, params.num_perm)
        self.fingerprint = TextFingerprint(params, self.layout)
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupPipeline:
        settings = crawler.settings
        num_perm = settings.getint("NEWS_MINHASH_PERM")
        shingle_size = settings.getint("NEWS_SHINGLE_SIZE")
        threshold = settings.getfloat("NEWS_DEDUP_THRESHOLD")
        if not 16 <= num_perm <= 1024:
            raise NotConfigured(f"NEWS_MINHASH_PERM must be within 16..1024, got {num_perm}")
        if not 1 <= shingle_size <= 20:
            raise NotConfigured(f"NEWS_SHINGLE_SIZE must be within 1..20, got {shingle_size}")
        if not 0.0 < threshold <= 1.0:
            raise NotConfigured(f"NEWS_DEDUP_THRESHOLD must be in (0, 1], got {threshold}")
        return cls(
            params=SignatureParams(
                num_perm=num_perm, shingle_size=shingle_size, shingle_hash=SHINGLE_HASH
            ),
            threshold=threshold,
            crawler=crawler,
            stats=crawler.stats,
        )

    def open_spider(self) -> None:
        assert self.crawler is not None
        opened = open_stage(self.crawler, "DedupPipeline", CleaningPipeline)
        if opened is None:
            return
        storage, cleaning, store = opened
        try:
            self.attach(store)
        except NotConfigured as exc:
            storage.abort(str(exc))
            return
        # Signatures need only the text: they are made beside the extraction, in the
        # workers, and the crawl process keeps the look-ups in the store.
        cleaning.derive(self.fingerprint)

    def attach(self, store: Store) -> None:
        """Check the store's signature parameters and load its canonical articles."""
        stored = store.get_meta(META_KEY)
        if stored is None:
            store.set_meta(META_KEY, self.params.as_json())
        else:
            try:
                params = SignatureParams.from_json(stored)
            except ValueError as exc:
                raise NotConfigured(f"the store at {store.display_url}: {exc}") from exc
            if replace(params, shingle_hash=self.params.shingle_hash) != self.params:
                raise NotConfigured(
                    f"the store at {store.display_url} was signed with {stored}; "
                    f"NEWS_MINHASH_PERM / NEWS_SHINGLE_SIZE now give {self.params.as_json()}. "
                    "Use the settings the store was built with, or a new store."
                )
            if params != self.params:
                # Signatures are only comparable under one shingle hash: a store keeps the
                # one it was made with.
                logger.info("Dedup: this store hashes shingles with %s", params.shingle_hash)
                self.params = params
                self.fingerprint = TextFingerprint(params, self.layout)
        applied = store.get_meta(THRESHOLD_META)
        if applied is not None and float(applied) != self.threshold:
            logger.warning(
                "The store's duplicates were last decided at threshold %s (scrapy dupes "
                "--apply); NEWS_DEDUP_THRESHOLD is %s, so this run decides differently",
                applied,
                self.threshold,
            )
        self.store = store
        built = build_index(store, DEDUP_LSH, self.layout, store.iter_canonical_signatures())
        if built is not None:
            logger.info("Dedup index built in the store for %d canonical articles", built)
        logger.info(
            "Dedup: num_perm=%d, shingles of %d words hashed with %s, threshold %.2f, "
            "%d bands of %d rows",
            self.params.num_perm,
            self.params.shingle_size,
            self.params.shingle_hash,
            self.threshold,
            *self.layout,
        )

    def close_spider(self) -> None:
        self.store = None

    @timed("dedup")
    def process_item(self, item: ArticleItem) -> ArticleItem:
        store = self.store
        if store is None:
            if self.stats is not None:
                self.stats.inc_value("news/dropped/store_unavailable")
            raise DropItem(f"store_unavailable: {item.url}: the store is not open")
        # Made by the cleaning stage (TextFingerprint), which drops an item without text.
        fingerprint: Fingerprint = item.derived[self.fingerprint.stage]
        item.content_hash = fingerprint.content_hash
        # One statement for the URL, the exact text and the near-duplicate candidates; the
        # index lives in the store, so rows of the open batch count, and nothing in it can
        # point at a row that was never committed.
        found = store.dedup_candidates(item.url, item.content_hash, fingerprint.bands)
        if found.url_stored:
            if self.stats is not None:
                self.stats.inc_value("news/items/already_stored")
            raise DropItem(f"already_stored: {item.url}", log_level="DEBUG")
        if found.exact is not None:
            item.signature = found.exact.signature
            self._mark(item, found.exact, 1.0, "exact")
            return item

        item.signature = fingerprint.signature
        best = best_match(item.signature, found.near, self.threshold) if item.signature else None
        if best is not None:
            self._mark(item, best[0], best[1], "near")
        else:
            item.dedup = "new"
            item.dedup_bands = fingerprint.bands  # storage indexes it with the article
        return item

    @staticmethod
    def _mark(item: ArticleItem, match: CanonicalMatch, similarity: float, kind: str) -> None:
        item.duplicate_of = match.id
        item.story_id = match.story_id
        item.similarity = similarity
        item.dedup = kind
        logger.debug(
            "%s duplicate: %s of article %d (similarity %.3f)", kind, item.url, match.id, similarity
        )

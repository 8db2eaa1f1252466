"""Dedup stage: exact duplicates by content hash, near-duplicates by MinHash LSH."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from db import CanonicalMatch, Store
from db.store import DEDUP_LSH
from pipelines.cputime import timed
from pipelines.storage import StoragePipeline
from pipelines.textnorm import normalize_text, words

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

SCHEME = "affine32"
SIGNATURE_DTYPE = np.dtype("<u4")
SEED = 1
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

    def as_json(self) -> str:
        return json.dumps(
            {
                "num_perm": self.num_perm,
                "shingle_size": self.shingle_size,
                "seed": self.seed,
                "scheme": self.scheme,
            },
            sort_keys=True,
        )


def content_hash(normalized: str) -> str:
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).hexdigest()


class Signer:
    """MinHash signatures of word shingles; the permutations are drawn once per instance."""

    def __init__(self, params: SignatureParams) -> None:
        self.params = params
        self._permutations = MinHash(
            num_perm=params.num_perm, seed=params.seed, scheme=SCHEME
        ).permutations

    def shingles(self, normalized: str) -> list[bytes]:
        tokens = words(normalized)
        k = self.params.shingle_size
        if len(tokens) < k:
            return [" ".join(tokens).encode("utf-8")] if tokens else []
        return [" ".join(tokens[i : i + k]).encode("utf-8") for i in range(len(tokens) - k + 1)]

    def sign(self, normalized: str) -> MinHash | None:
        """The signature of a text, or None for a text with no word to shingle."""
        return self.sign_set(self.shingles(normalized))

    def sign_set(self, items: list[bytes]) -> MinHash | None:
        """The signature of a set of items, or None for an empty one."""
        if not items:
            return None
        minhash = MinHash(
            num_perm=self.params.num_perm,
            seed=self.params.seed,
            permutations=self._permutations,
            scheme=SCHEME,
        )
        minhash.update_batch(items)
        return minhash

    @staticmethod
    def to_bytes(minhash: MinHash) -> bytes:
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


def build_index(
    store: Store, lsh: int, layout: Layout, signatures: Iterable[tuple[int, bytes]]
) -> int | None:
    """Fill one LSH index of the store from SIGNATURES, unless it is already built with this
    layout: a new store, a store from before the index, or a changed threshold. Returns the
    articles indexed, or None when there was nothing to do."""
    key, wanted = f"lsh_layout_{lsh}", f"{layout[0]}x{layout[1]}"
    if store.get_meta(key) == wanted:
        return None
    store.delete_buckets(lsh=lsh)
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
        self.signer = Signer(params)
        self.layout = lsh_layout(threshold, params.num_perm)
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
            params=SignatureParams(num_perm=num_perm, shingle_size=shingle_size),
            threshold=threshold,
            crawler=crawler,
            stats=crawler.stats,
        )

    def open_spider(self) -> None:
        storage = self.crawler.get_item_pipeline(StoragePipeline) if self.crawler else None
        if storage is None:
            raise NotConfigured("DedupPipeline needs StoragePipeline in ITEM_PIPELINES")
        store = storage.open_store()
        if store is None:
            return  # storage logged why and is stopping the run
        try:
            self.attach(store)
        except NotConfigured as exc:
            storage.abort(str(exc))

    def attach(self, store: Store) -> None:
        """Check the store's signature parameters and load its canonical articles."""
        stored = store.get_meta(META_KEY)
        if stored is None:
            store.set_meta(META_KEY, self.params.as_json())
        elif stored != self.params.as_json():
            raise NotConfigured(
                f"the store at {store.display_url} was signed with {stored}; "
                f"NEWS_MINHASH_PERM / NEWS_SHINGLE_SIZE now give {self.params.as_json()}. "
                "Use the settings the store was built with, or a new store."
            )
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
            "Dedup: num_perm=%d, shingles of %d words, threshold %.2f, %d bands of %d rows",
            self.params.num_perm,
            self.params.shingle_size,
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
        if store.has_url(item.url):
            if self.stats is not None:
                self.stats.inc_value("news/items/already_stored")
            raise DropItem(f"already_stored: {item.url}", log_level="DEBUG")

        normalized = normalize_text(item.text)
        item.content_hash = content_hash(normalized)
        exact = store.canonical_by_hash(item.content_hash)
        if exact is not None:
            item.signature = exact.signature
            self._mark(item, exact, 1.0, "exact")
            return item

        minhash = self.signer.sign(normalized)
        if minhash is None:
            item.signature = b""
            item.dedup = "new"
            return item
        item.signature = self.signer.to_bytes(minhash)
        keys = band_keys(item.signature, self.layout)
        # The index lives in the store: rows of the open batch count, and nothing in it can
        # point at a row that was never committed.
        best = best_match(item.signature, store.canonicals_in_buckets(keys), self.threshold)
        if best is not None:
            self._mark(item, best[0], best[1], "near")
        else:
            item.dedup = "new"
            item.dedup_bands = keys  # storage indexes it with the article
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

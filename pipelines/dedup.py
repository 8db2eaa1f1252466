"""Dedup stage: exact duplicates by content hash, near-duplicates by MinHash LSH."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from datasketch import MinHashLSH
from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from db import CanonicalMatch, Store
from db.store import DEDUP_LSH
from pipelines.cleaning import CleaningPipeline
from pipelines.cputime import timed
from pipelines.signatures import (
    SHINGLE_HASH,
    Fingerprint,
    Layout,
    SignatureParams,
    TextFingerprint,
    band_keys,
    estimated_jaccard,
    permutations,
)
from pipelines.storage import open_stage

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# LSH candidates are verified against the estimated Jaccard, so a false positive costs one
# look-up while a false negative loses a duplicate: lean the band layout toward recall.
LSH_WEIGHTS = (0.3, 0.7)
META_KEY = "minhash"
# Set by `scrapy dupes --threshold X --apply`: the threshold the stored decisions follow.
THRESHOLD_META = "dedup_threshold"


def lsh_layout(threshold: float, num_perm: int) -> Layout:
    """datasketch's band layout for this threshold, leaning toward recall (LSH_WEIGHTS)."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    return lsh.b, lsh.r


def text_fingerprint(params: SignatureParams, layout: Layout) -> TextFingerprint:
    return TextFingerprint(params, layout, permutations(params.num_perm, params.seed))


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
        self.fingerprint = text_fingerprint(params, self.layout)
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
                self.fingerprint = text_fingerprint(params, self.layout)
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

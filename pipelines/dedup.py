"""Dedup stage: exact duplicates by content hash, near-duplicates by MinHash LSH."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from crawler.rules import cache_dir, value
from crawler.store import CrawlStore
from db.base import DEDUP_LSH
from db.records import CanonicalMatch
from db.sites import site_domain
from db.store import Store
from pipelines.cleaning import CleaningPipeline
from pipelines.cputime import timed
from pipelines.lsh import META_KEY, THRESHOLD_META, best_match, build_index, lsh_layout
from pipelines.signatures import (
    SHINGLE_HASH,
    Layout,
    SignatureParams,
    TextFingerprint,
    permutations,
)
from pipelines.storage import StoragePipeline
from pipelines.textnorm import normalize_text

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def text_fingerprint(
    params: SignatureParams, layout: Layout, cache_dir: Path | None = None
) -> TextFingerprint:
    drawn = permutations(params.num_perm, params.seed, cache_dir)
    return TextFingerprint(params, layout, drawn)


def cross_site(url: str, other: str | None) -> bool:
    """Whether OTHER is a URL of another site than URL's (registered domains differ)."""
    return other is not None and site_domain(other) != site_domain(url)


_FIGURES_RE = re.compile(r"\d+")


def same_text(old: str, new: str) -> bool:
    """Whether NEW says what OLD said: the same words, figures aside."""
    return _FIGURES_RE.sub("0", normalize_text(old)) == _FIGURES_RE.sub("0", normalize_text(new))


class DedupPipeline:
    """Marks each item new, exact duplicate or near duplicate of a stored canonical article.

    Settings: ``NEWS_MINHASH_PERM``, ``NEWS_SHINGLE_SIZE``, ``NEWS_DEDUP_THRESHOLD``.
    Reads the crawl's store on the connection storage writes through, so rows of the batch
    not yet committed count too.
    A stored URL fetched again is a revision (``item.revision_of``) when its text changed,
    and is decided anew, against every canonical article but itself;
    otherwise it is dropped as already stored. ``item.duplicate_kind`` tells a copy on its
    canonical's site (``exact``, ``near``) from syndication (``syndicated``: another site,
    or a page whose canonical link names another site).
    Stats: ``news/items/already_stored``.
    """

    def __init__(
        self,
        *,
        params: SignatureParams,
        threshold: float,
        crawl_store: CrawlStore,
        cache_dir: Path | None = None,
        stats: StatsCollector | None = None,
    ) -> None:
        self.params = params
        self.threshold = threshold
        self.crawl_store = crawl_store
        self.cache_dir = cache_dir
        self.stats = stats
        self.layout = lsh_layout(threshold, params.num_perm, cache_dir)
        self.fingerprint = text_fingerprint(params, self.layout, cache_dir)
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupPipeline:
        settings = crawler.settings
        return cls(
            params=SignatureParams(
                num_perm=value(settings, "NEWS_MINHASH_PERM"),
                shingle_size=value(settings, "NEWS_SHINGLE_SIZE"),
                shingle_hash=SHINGLE_HASH,
            ),
            threshold=value(settings, "NEWS_DEDUP_THRESHOLD"),
            crawl_store=CrawlStore.of(crawler, "DedupPipeline"),
            cache_dir=cache_dir(settings),
            stats=crawler.stats,
        )

    def open_spider(self) -> None:
        self.store = self.crawl_store.open_stage(
            "DedupPipeline", (CleaningPipeline, StoragePipeline), self.attach
        )

    def attach(self, store: Store) -> TextFingerprint:
        """Check the store's signature parameters and index its canonical articles. Returns
        the fingerprint to make of every text: signatures need only the text, so they are
        made beside the extraction, in the workers, and the crawl process keeps the look-ups
        in the store."""
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
                self.fingerprint = text_fingerprint(params, self.layout, self.cache_dir)
        applied = store.get_meta(THRESHOLD_META)
        if applied is not None and float(applied) != self.threshold:
            logger.warning(
                "The store's duplicates were last decided at threshold %s (scrapy dupes "
                "--apply); NEWS_DEDUP_THRESHOLD is %s, so this run decides differently",
                applied,
                self.threshold,
            )
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
        return self.fingerprint

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
        fingerprint = item.derived.dedup
        assert fingerprint is not None
        item.content_hash = fingerprint.content_hash
        # On a shared store, the decision lock is held from here to the article's commit.
        self.crawl_store.lock_decisions(store)
        # One statement for the URL, the exact text and the near-duplicate candidates; the
        # index lives in the store, so rows of the open batch count, and nothing in it can
        # point at a row that was never committed.
        found = store.dedup_candidates(item.url, item.content_hash, fingerprint.bands)
        near = found.near
        if found.url_stored:
            # Fetched again (its listing's date moved, or NEWS_REFRESH): a revision if its
            # text changed. One whose figures alone changed (a corrected toll, a counter)
            # is marked so: the history keeps one such version in a row (db/revisions.py).
            previous = store.stored_article(item.url)
            if previous is None or previous.content_hash == item.content_hash:
                if self.stats is not None:
                    self.stats.inc_value("news/items/already_stored")
                raise DropItem(f"already_stored: {item.url}", log_level="DEBUG")
            item.revision_of = previous
            item.figures_only = same_text(previous.text, item.text)
            near = [match for match in near if match.id != previous.id]
        if found.exact is not None:
            item.signature = found.exact.signature
            self._mark(item, found.exact, 1.0, "exact")
            return item

        item.signature = fingerprint.signature
        best = best_match(item.signature, near, self.threshold) if item.signature else None
        if best is not None:
            self._mark(item, best[0], best[1], "near")
        else:
            item.dedup = "new"
            item.duplicate_kind = "syndicated" if cross_site(item.url, item.canonical_url) else None
            item.dedup_bands = fingerprint.bands  # storage indexes it with the article
        return item

    @staticmethod
    def _mark(item: ArticleItem, match: CanonicalMatch, similarity: float, kind: str) -> None:
        item.duplicate_of = match.id
        item.story_id = match.story_id
        item.similarity = similarity
        item.dedup = kind
        # A copy on another site than its canonical's, or one that names another site as
        # its canonical, is syndication; on the same site, the site's own copy.
        syndicated = cross_site(item.url, match.url) or cross_site(item.url, item.canonical_url)
        item.duplicate_kind = "syndicated" if syndicated else kind
        logger.debug(
            "%s duplicate: %s of article %d (similarity %.3f)", kind, item.url, match.id, similarity
        )

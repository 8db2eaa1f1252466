"""Storage stage: articles into the crawl's store in batched transactions."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING

from scrapy.exceptions import DropItem

from crawler.items import ArticleItem
from crawler.rules import value
from crawler.store import STAT_PREFIX, CrawlStore, store_failed
from db.base import DEDUP_LSH, STORY_LSH, StoreError
from db.records import utcnow
from pipelines.cputime import timed
from pipelines.lsh import stored_layout
from pipelines.signatures import band_keys

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from db.store import Store

logger = logging.getLogger(__name__)

# When a run has committed this many articles, and ten times as many, and so on, a shared
# store's planner statistics are made anew.
ANALYZE_FIRST = 100


class StoragePipeline:
    """Writes items to the crawl's store (crawler.store.CrawlStore).

    Settings: ``NEWS_BATCH_SIZE`` (items per transaction on SQLite; a shared PostgreSQL
    store commits every article), ``NEWS_COMMIT_INTERVAL`` (seconds a batch may stay open
    while items arrive), ``NEWS_MAX_VERSIONS`` (texts kept per
    revised article; 0 keeps all).
    Stats: ``news/items/{new,exact,near,revised}`` (committed articles only).
    """

    def __init__(
        self,
        *,
        crawl_store: CrawlStore,
        batch_size: int,
        commit_interval: float,
        max_versions: int = 0,
        stats: StatsCollector | None = None,
    ) -> None:
        self.max_versions = max_versions
        self.crawl_store = crawl_store
        self.batch_size = batch_size
        self.commit_interval = commit_interval
        self.stats = stats
        self.store: Store | None = None
        # Dedup decisions of the open batch, counted in stats only once committed.
        self._pending: Counter[str] = Counter()
        # Stories that gained articles in the open batch (their counts are refreshed at commit).
        self._touched_stories: set[int] = set()
        # How far the open batch's articles have read each WARC file: (size, end offset).
        self._progress: dict[str, tuple[int, int]] = {}
        self._batch_started = 0.0
        self._committed = 0
        self._next_analyze = ANALYZE_FIRST

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        settings = crawler.settings
        pipeline = cls(
            crawl_store=CrawlStore.of(crawler, "StoragePipeline"),
            batch_size=value(settings, "NEWS_BATCH_SIZE"),
            commit_interval=value(settings, "NEWS_COMMIT_INTERVAL"),
            max_versions=value(settings, "NEWS_MAX_VERSIONS"),
            stats=crawler.stats,
        )
        crawler.signals.connect(pipeline.discard_batch, signal=store_failed)
        return pipeline

    def open_spider(self) -> None:
        self.store = self.crawl_store.open("StoragePipeline")
        try:
            if self.store is not None and self.store.lacks_statistics():
                self.store.analyze()
                self.store.commit()
        except StoreError as exc:
            self.crawl_store.fail(exc)

    @timed("storage")
    def process_item(self, item: ArticleItem) -> ArticleItem:
        store = self.store
        if self.crawl_store.failed or store is None:
            self.count_drop("store_unavailable")
            raise DropItem(f"store_unavailable: {item.url}: the store cannot be written")
        try:
            if item.revision_of is not None:
                self.revise(store, item)
                kind = "revised"
            else:
                item.id, item.story_id = store.add_article(item, run_id=self.crawl_store.run_id)
                kind = item.dedup or "new"
            assert item.story_id is not None
            if item.origin is not None:
                # The warc source's progress: written once per batch, in its transaction.
                path, size, end = item.origin
                self._progress[path] = (size, end)
            self._touched_stories.add(item.story_id)
            if not self._pending:
                self._batch_started = time.monotonic()
            self._pending[kind] += 1
            if (
                # On a shared store each article commits alone: its commit ends the
                # decision lock that dedup took (db.base.StoreBase.lock_decisions).
                store.shared
                or self._pending.total() >= self.batch_size
                or time.monotonic() - self._batch_started >= self.commit_interval
            ):
                self.flush()
        except StoreError as exc:
            self.crawl_store.fail(exc)
            self.count_drop("store_error")
            raise DropItem(f"store_error: {item.url}: {exc}") from exc
        return item

    def revise(self, store: Store, item: ArticleItem) -> None:
        """The article's row takes the new text; the texts go into its history."""
        previous = item.revision_of
        assert previous is not None and item.story_id is not None
        run_id = self.crawl_store.run_id
        dedup_layout = stored_layout(store, DEDUP_LSH)
        story_layout = stored_layout(store, STORY_LSH)
        old_story = previous.story_signature
        version = store.revise_article(
            item,
            previous,
            run_id=run_id,
            old_dedup_keys=band_keys(previous.signature, dedup_layout)
            if dedup_layout and previous.signature
            else (),
            old_story_keys=band_keys(old_story, story_layout) if story_layout and old_story else (),
            max_versions=self.max_versions,
            figures_only=item.figures_only,
        )
        item.id = previous.id
        mine = store.resolve_story(previous.story_id) or previous.story_id
        if item.duplicate_of is not None and mine != item.story_id:
            # Now a copy of another article: its story joins that article's.
            store.merge_stories(
                min(mine, item.story_id),
                {mine, item.story_id},
                reason=f"revision {version} of article {previous.id} became a duplicate of "
                f"article {item.duplicate_of}",
                similarity=item.similarity,
                run_id=run_id,
            )
            self._touched_stories.add(mine)
        logger.info("Revised article %d (version %d): %s", previous.id, version, item.url)

    def flush(self) -> None:
        if self.store is not None and self._pending:
            # Story counts are kept per batch, in the batch's transaction.
            self.store.refresh_stories(self._touched_stories)
            self._touched_stories.clear()
            at = utcnow()
            for path, (size, end) in self._progress.items():
                self.store.advance_warc_progress(path, size=size, offset=end, at=at)
            self._progress.clear()
            self.store.commit()
            self.crawl_store.decision_ended()
            self._committed += self._pending.total()
            if self._committed >= self._next_analyze:
                # PostgreSQL's planner needs statistics that follow the store's growth
                # (db.base.StoreBase.analyze): at this run's 100th, 1,000th, … article.
                self._next_analyze *= 10
                self.store.analyze()
                self.store.commit()
            logger.debug("Committed %d articles", self._pending.total())
            if self.stats is not None:
                for kind, count in self._pending.items():
                    self.stats.inc_value(f"{STAT_PREFIX}items/{kind}", count)
            self._pending.clear()

    def discard_batch(self, exc: Exception) -> None:
        """The open batch was rolled back (crawler.store.store_failed): none of it counts."""
        self._pending.clear()
        self._touched_stories.clear()
        self._progress.clear()

    def count_drop(self, reason: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"{STAT_PREFIX}dropped/{reason}")

    def close_spider(self) -> None:
        try:
            self.flush()
        except StoreError as exc:
            self.crawl_store.fail(exc)
        self.store = None

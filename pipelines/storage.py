"""Storage stage: articles into the store in batched transactions, and the run ledger."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, TypeVar

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.conf import build_component_list
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crawler.items import ArticleItem
from db import ArticleRecord, Store, StoreBusy, StoreError
from db.store import RunCounts
from pipelines.cputime import timed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

STAT_PREFIX = "news/"

_Source = TypeVar("_Source")

# Sent (store=, reason=) when a run is about to be closed in the ledger, while the store is
# still open: components write what they keep until the end of a run here, and it is
# committed with the run's ledger row.
store_closing = object()


def stop_run(crawler: Crawler | None, message: str, reason: str, status: str = "failed") -> None:
    """Log why the run cannot go on, in one line, and stop it; it will exit non-zero."""
    logger.error("%s", message)
    if crawler is None:
        return
    if crawler.stats is not None:
        crawler.stats.set_value(f"{STAT_PREFIX}run_status", status)
    if crawler.engine is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


def check_pipelines(crawler: Crawler, stage: str, needed: Iterable[type] = ()) -> bool:
    """True when every pipeline in ITEM_PIPELINES runs, and those STAGE needs are there.
    Otherwise the run stops: Scrapy disables a pipeline whose from_crawler raises
    NotConfigured (a setting out of range) with only a warning, and a run without dedup
    would store every article as new, unattended, into a store that keeps them."""
    entries = build_component_list(crawler.settings.getwithbase("ITEM_PIPELINES"))
    listed = [load_object(entry) for entry in entries]
    disabled = [p for p in listed if crawler.get_item_pipeline(p) is None]
    absent = [
        p
        for p in needed
        if crawler.get_item_pipeline(p) is None and not any(issubclass(d, p) for d in disabled)
    ]
    missing = [f"{p.__name__} is disabled (the warning above says why)" for p in disabled]
    missing += [f"{stage} needs {p.__name__}, which is not in ITEM_PIPELINES" for p in absent]
    if not missing:
        return True
    stats = crawler.stats.get_stats() if crawler.stats is not None else {}
    if stats.get(f"{STAT_PREFIX}run_status") != "failed":  # said once, by the first stage
        stop_run(crawler, f"Stopping the run: {'; '.join(missing)}", "misconfigured")
    return False


def run_status(finish_reason: str | None, errors: int) -> str:
    """``finished`` only for a run that ended by itself and logged no error."""
    if finish_reason == "shutdown":
        return "interrupted"
    if finish_reason == "finished" and errors == 0:
        return "finished"
    return "failed"


def counts_from_stats(stats: dict[str, Any]) -> RunCounts:
    dropped_prefix = f"{STAT_PREFIX}dropped/"
    return RunCounts(
        new=int(stats.get(f"{STAT_PREFIX}items/new", 0)),
        exact_duplicate=int(stats.get(f"{STAT_PREFIX}items/exact", 0)),
        near_duplicate=int(stats.get(f"{STAT_PREFIX}items/near", 0)),
        already_stored=int(stats.get(f"{STAT_PREFIX}items/already_stored", 0)),
        dropped={
            key[len(dropped_prefix) :]: int(value)
            for key, value in sorted(stats.items())
            if key.startswith(dropped_prefix)
        },
        # Scrapy logs a request that used up its retries as an error; the spider counts it
        # as a dropped page (http_5xx, fetch_error), which is what it is for a crawl.
        errors=max(
            0, int(stats.get("log_count/ERROR", 0)) - int(stats.get("retry/max_reached", 0))
        ),
    )


class StoragePipeline:
    """Writes items to the store named by ``NEWS_DATABASE_URL``.

    Settings: ``NEWS_DATABASE_URL``, ``NEWS_BATCH_SIZE`` (items per transaction),
    ``NEWS_COMMIT_INTERVAL`` (seconds a batch may stay open while items arrive),
    ``NEWS_LOCK_WAIT`` (seconds to wait for another run on the same store to end),
    ``NEWS_SQLITE_MMAP_MB`` (how much of a SQLite store reads map into memory).
    A ``crawl_runs`` row is written when the spider opens and completed when it closes.
    Stats: ``news/items/{new,exact,near}`` (committed articles only), ``news/run_id``,
    ``news/run_status``, ``news/store/articles``, ``news/store/url``.
    """

    def __init__(
        self,
        *,
        database_url: str,
        batch_size: int,
        commit_interval: float,
        lock_wait: float = 0.0,
        mmap_mb: int = 0,
        crawler: Crawler | None = None,
        stats: StatsCollector | None = None,
    ) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.commit_interval = commit_interval
        self.lock_wait = lock_wait
        self.mmap_mb = mmap_mb
        self.crawler = crawler
        self.stats = stats
        self.store: Store | None = None
        self.run_id: int | None = None
        self.failed = False
        # Dedup decisions of the open batch, counted in stats only once committed.
        self._pending: Counter[str] = Counter()
        # Stories that gained articles in the open batch (their counts are refreshed at commit).
        self._touched_stories: set[int] = set()
        self._batch_started = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        settings = crawler.settings
        url = settings.get("NEWS_DATABASE_URL")
        if not url:
            raise NotConfigured("NEWS_DATABASE_URL is empty")
        try:
            make_url(url)
        except ArgumentError as exc:
            raise NotConfigured(f"NEWS_DATABASE_URL is not a database URL: {url!r}") from exc
        batch_size = settings.getint("NEWS_BATCH_SIZE")
        if batch_size < 1:
            raise NotConfigured(f"NEWS_BATCH_SIZE must be at least 1, got {batch_size}")
        interval = settings.getfloat("NEWS_COMMIT_INTERVAL")
        if interval <= 0:
            raise NotConfigured(f"NEWS_COMMIT_INTERVAL must be positive, got {interval}")
        lock_wait = settings.getfloat("NEWS_LOCK_WAIT")
        if lock_wait < 0:
            raise NotConfigured(f"NEWS_LOCK_WAIT must not be negative, got {lock_wait}")
        mmap_mb = settings.getint("NEWS_SQLITE_MMAP_MB")
        if mmap_mb < 0:
            raise NotConfigured(f"NEWS_SQLITE_MMAP_MB must not be negative, got {mmap_mb}")
        pipeline = cls(
            database_url=url,
            batch_size=batch_size,
            commit_interval=interval,
            lock_wait=lock_wait,
            mmap_mb=mmap_mb,
            crawler=crawler,
            stats=crawler.stats,
        )
        # spider_closed comes after every pipeline's close_spider and carries the reason.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_store(self) -> Store | None:
        """Open (once) and return the store; dedup reads through the same connection.

        None when the store cannot be opened: the error is logged and the run is stopping.
        """
        if self.crawler is not None and not check_pipelines(self.crawler, "StoragePipeline"):
            self.failed = True
        if self.store is None and not self.failed:
            store = Store(self.database_url, mmap_bytes=self.mmap_mb * 1024 * 1024)
            if self.stats is not None:
                self.stats.set_value(f"{STAT_PREFIX}store/url", store.display_url)
            try:
                store.wait_for_live_run(self.lock_wait)
            except StoreBusy as exc:
                self.abort(f"another run holds the store: {exc}", reason="store_busy")
                return None
            try:
                store.open()
            except StoreError as exc:
                self.abort(str(exc))
                return None
            spider = self.crawler.spider if self.crawler else None
            try:
                # Claim the store before anyone reads from it: runs never overlap.
                self.run_id = store.start_run(
                    spider.name if spider is not None else "unknown",
                    getattr(spider, "run_arguments", {}),
                    wait=self.lock_wait,
                )
            except StoreBusy as exc:
                store.close()
                self.abort(f"another run holds the store: {exc}", reason="store_busy")
                return None
            self.store = store
            if self.stats is not None:
                self.stats.set_value(f"{STAT_PREFIX}run_id", self.run_id)
            logger.info("Run %d started; store %s", self.run_id, store.display_url)
        return self.store

    def open_spider(self) -> None:
        self.open_store()

    @timed("storage")
    def process_item(self, item: ArticleItem) -> ArticleItem:
        if self.failed or self.store is None:
            self.count_drop("store_unavailable")
            raise DropItem(f"store_unavailable: {item.url}: the store cannot be written")
        record = ArticleRecord(
            url=item.url,
            source=item.source,
            title=item.title,
            author=item.author,
            site_name=item.site_name,
            text=item.text,
            published_at=item.published_at,
            language=item.language,
            fetched_at=item.fetched_at,
            content_hash=item.content_hash,
            signature=item.signature,
            duplicate_of=item.duplicate_of,
            similarity=item.similarity,
            story_id=item.story_id,
            story_signature=item.story_signature,
            story_similarity=item.story_similarity,
            dedup_bands=item.dedup_bands,
            story_bands=item.story_bands,
        )
        try:
            item.id, item.story_id = self.store.add_article(record, run_id=self.run_id)
            self._touched_stories.add(item.story_id)
            if not self._pending:
                self._batch_started = time.monotonic()
            self._pending[item.dedup or "new"] += 1
            if (
                self._pending.total() >= self.batch_size
                or time.monotonic() - self._batch_started >= self.commit_interval
            ):
                self.flush()
        except StoreError as exc:
            self.fail(exc)
            self.count_drop("store_error")
            raise DropItem(f"store_error: {item.url}: {exc}") from exc
        return item

    def flush(self) -> None:
        if self.store is not None and self._pending:
            # Story counts are kept per batch, in the batch's transaction.
            self.store.refresh_stories(self._touched_stories)
            self._touched_stories.clear()
            self.store.commit()
            logger.debug("Committed %d articles", self._pending.total())
            if self.stats is not None:
                for kind, count in self._pending.items():
                    self.stats.inc_value(f"{STAT_PREFIX}items/{kind}", count)
            self._pending.clear()

    def count_drop(self, reason: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"{STAT_PREFIX}dropped/{reason}")

    def fail(self, exc: Exception) -> None:
        """A write failed: the open batch is lost to this run (the next run stores it)."""
        self._pending.clear()
        self._touched_stories.clear()
        if self.store is not None:
            self.store.rollback()
        self.abort(f"store write failed, stopping the run: {exc}")

    def abort(self, message: str, reason: str = "store_error") -> None:
        """Log why the run cannot go on, in one line, and stop it; it will exit non-zero."""
        self.failed = True
        stop_run(self.crawler, message, reason, "busy" if reason == "store_busy" else "failed")

    def close_spider(self) -> None:
        try:
            self.flush()
        except StoreError as exc:
            self.fail(exc)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        store, run_id = self.store, self.run_id
        if store is None or run_id is None:
            return
        stats = self.stats.get_stats() if self.stats is not None else {}
        if self.failed and reason == "finished":
            reason = "store_error"
        if self.crawler is not None:
            self.crawler.signals.send_catch_log(signal=store_closing, store=store, reason=reason)
        counts = counts_from_stats(stats)
        status = run_status(reason, counts.errors)
        try:
            store.finish_run(run_id, status=status, finish_reason=reason, counts=counts)
            total = store.count_articles()
        except StoreError as exc:
            logger.error("Could not complete run %d in the ledger: %s", run_id, exc)
            status, total = "failed", -1
        finally:
            store.close()
            self.store = None
        if self.stats is not None:
            self.stats.set_value(f"{STAT_PREFIX}run_status", status)
            self.stats.set_value(f"{STAT_PREFIX}store/articles", total)
        logger.info("Run %d %s (%s)", run_id, status, reason)


def open_stage(
    crawler: Crawler, stage: str, source: type[_Source]
) -> tuple[StoragePipeline, _Source, Store] | None:
    """What a stage between SOURCE (the pipeline whose output it reads) and storage needs in
    its ``open_spider``: the storage pipeline, SOURCE's running instance and the open store.
    None when the run is stopping; the reason is logged."""
    if not check_pipelines(crawler, stage, (StoragePipeline, source)):
        return None
    storage = crawler.get_item_pipeline(StoragePipeline)
    upstream = crawler.get_item_pipeline(source)
    assert storage is not None and upstream is not None
    store = storage.open_store()
    if store is None:
        return None  # storage logged why and is stopping the run
    return storage, upstream, store

"""Crawl-wide extensions: progress lines for long ingests (in the style of Scrapy's own
LogStats), the start-up heap kept out of the garbage collector's way, and the crawl
process's own CPU time."""

from __future__ import annotations

import gc
import logging
import resource
import time
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler.rules import value

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class ProgressLog:
    """Every ``NEWS_PROGRESS_INTERVAL`` seconds, log articles per minute and what became of them.

    New and duplicate counts are those committed to the store so far.
    """

    def __init__(self, stats: StatsCollector, interval: float) -> None:
        self.stats = stats
        self.interval = interval
        self.loop: task.LoopingCall | None = None
        self.started = 0.0
        self.last_done = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLog:
        interval = value(crawler.settings, "NEWS_PROGRESS_INTERVAL")
        if interval == 0:
            raise NotConfigured("NEWS_PROGRESS_INTERVAL is 0: no progress lines")
        assert crawler.stats is not None
        extension = cls(crawler.stats, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.log)
        self.loop.start(self.interval, now=False)

    def counts(self) -> dict[str, int]:
        get = self.stats.get_value
        dropped = sum(
            int(value)
            for key, value in self.stats.get_stats().items()
            if key.startswith("news/dropped/")
        )
        return {
            "processed": int(get("item_scraped_count", 0)) + int(get("item_dropped_count", 0)),
            "new": int(get("news/items/new", 0)),
            "duplicates": int(get("news/items/exact", 0)) + int(get("news/items/near", 0)),
            "already": int(get("news/items/already_stored", 0)),
            "dropped": dropped,
        }

    def log(self) -> None:
        counts = self.counts()
        done = counts["processed"]
        per_minute = (done - self.last_done) * 60.0 / self.interval
        self.last_done = done
        logger.info(
            "Progress: %d documents (at %.0f documents/min); committed %d new, %d duplicates; "
            "%d already stored, %d dropped",
            done,
            per_minute,
            counts["new"],
            counts["duplicates"],
            counts["already"],
            counts["dropped"],
        )

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()


class FrozenStartupHeap:
    """Moves every object alive when the engine starts (Scrapy, SQLAlchemy, the modules and
    the components) out of the cyclic garbage collector's reach, with ``gc.freeze()``.

    None of them becomes garbage before the crawl ends, yet each full collection walked them
    all again, charged to whichever stage happened to allocate: 0.91 ms a page in the
    collector unfrozen, 0.54 ms frozen (benchmarks/machinery.py, docs/performance.md).
    Objects made later are collected as before, so memory over a long crawl is unchanged.
    Stats: ``news/gc/frozen_objects``.
    """

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrozenStartupHeap:
        assert crawler.stats is not None
        extension = cls(crawler.stats)
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_started(self) -> None:
        gc.collect()  # what start-up left as garbage goes now, not frozen for good
        gc.freeze()
        self.stats.set_value("news/gc/frozen_objects", gc.get_freeze_count())

    def engine_stopped(self) -> None:
        gc.unfreeze()


class CrawlProcessCpu:
    """Records the CPU time of the crawl process itself, workers excluded, in the stats
    (``news/crawl_process_cpu``, seconds). Every article passes through this one process
    in turn, so its CPU per article bounds a crawl's speed whatever the number of workers.
    """

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProcessCpu:
        assert crawler.stats is not None
        extension = cls(crawler.stats)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Spider, reason: str) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.stats.set_value("news/crawl_process_cpu", usage.ru_utime + usage.ru_stime)

"""Cleaning stage: main text and metadata out of HTML (trafilatura) or plain text, in the
crawl process or in a pool of worker processes (the cleaning itself is pipelines.cleaner)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem, Derivation
from crawler.rules import cache_dir, value
from crawler.store import CrawlStore
from pipelines.articles import not_an_article
from pipelines.cleaner import Cleaner, Outcome, clean_in_worker, start_worker
from pipelines.language import ModelError, check_model
from pipelines.workerpool import WorkerPool

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class CleaningPipeline:
    """Turns raw documents into article text with metadata; drops items with no usable text.

    A web page is kept only if it is an article (pipelines/articles.py weighs the spider's
    evidence with the text). Settings: ``NEWS_MIN_TEXT_CHARS`` (shorter cleaned text is
    dropped),
    ``NEWS_TRAILER_MARKERS`` (extra headings that start a trailer to cut), ``NEWS_WORKERS``
    (processes that extract in parallel; 1 cleans in the crawl process), ``NEWS_CACHE_DIR``
    (where the unpacked language model is kept between runs). With workers, the
    items still leave this stage in the order they came. The later stages' derivations
    (crawler.items.Derivation) come from the crawl's store, where they registered them.
    Stats: ``news/dropped/<reason>``, ``news/cpu/cleaning``.
    """

    def __init__(
        self,
        *,
        min_text_chars: int,
        extra_markers: list[str],
        workers: int = 1,
        cache_dir: Path | None = None,
        crawl_store: CrawlStore | None = None,
        stats: StatsCollector | None = None,
    ) -> None:
        self.min_text_chars = min_text_chars
        self.extra_markers = extra_markers
        self.cache_dir = cache_dir
        self.cleaner = Cleaner(extra_markers, cache_dir)
        self.workers = workers
        self.crawl_store = crawl_store
        self.stats = stats
        self.pool: WorkerPool | None = None
        # Fixed with the first document (see CrawlStore.derive).
        self.derivations: tuple[Derivation, ...] | None = None
        # Done when the item before the newest one has left this stage: items leave in the
        # order they came, so dedup sees them as they were read, with or without a pool.
        self._previous: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningPipeline:
        try:
            check_model()  # read with the first text; looked for here, to fail at start
        except ModelError as exc:
            raise NotConfigured(str(exc)) from exc
        settings = crawler.settings
        return cls(
            min_text_chars=value(settings, "NEWS_MIN_TEXT_CHARS"),
            extra_markers=value(settings, "NEWS_TRAILER_MARKERS"),
            workers=value(settings, "NEWS_WORKERS") or os.cpu_count() or 1,
            cache_dir=cache_dir(settings),
            crawl_store=CrawlStore.of(crawler, "CleaningPipeline"),
            stats=crawler.stats,
        )

    def start_pool(self, derivations: tuple[Derivation, ...]) -> WorkerPool:
        pool = WorkerPool(
            self.workers,
            start_worker,
            clean_in_worker,
            (self.extra_markers, derivations, self.cache_dir),
            on_second_death=lambda _args: Outcome(None, "a cleaning worker died on it twice", 0.0),
        )
        logger.info("Started %d cleaning workers", self.workers)
        return pool

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        previous = self._previous
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._previous = mine
        try:
            outcome = await self.clean(item)
            if previous is not None:
                await previous
            return self.finish(item, outcome)
        finally:
            mine.set_result(None)

    async def clean(self, item: ArticleItem) -> Outcome:
        raw, item.raw = item.raw, ""  # the raw document is not needed past this stage
        if self.derivations is None:
            # The later stages registered theirs in open_spider; they go to each worker once.
            sealed = self.crawl_store.sealed_derivations() if self.crawl_store else ()
            self.derivations = sealed
        if self.workers == 1:
            return self.cleaner.clean(item.kind, raw, item.url, self.derivations)
        if self.pool is None:
            # Started with the first document, not with the crawl: a run with nothing new to
            # read (a cron job over an unchanged folder or site) starts no worker at all.
            self.pool = self.start_pool(self.derivations)
        # A worker that dies takes only the document it held; the pool tries that once more
        # in a new worker, so only a document that kills a worker twice is lost.
        outcome: Outcome = await self.pool.submit(item.kind, raw, item.url)
        return outcome

    def finish(self, item: ArticleItem, outcome: Outcome) -> ArticleItem:
        if self.stats is not None:
            # Seconds, measured where the cleaning ran (the stats take floats as they are).
            self.stats.inc_value("news/cpu/cleaning", outcome.cpu_seconds)  # type: ignore[arg-type]
            for stage, seconds in outcome.derived_cpu_seconds.items():
                self.stats.inc_value(f"news/cpu/{stage}", seconds)  # type: ignore[arg-type]
                # The part of the stage's CPU spent where the text was cleaned.
                self.stats.inc_value(f"news/derived_cpu/{stage}", seconds)  # type: ignore[arg-type]
        cleaned = outcome.cleaned
        if outcome.failure is not None:
            self.drop(item, "extraction_failed", outcome.failure)
        if cleaned is None or not cleaned.text:
            self.drop(item, "no_text", "no article text could be extracted")
        assert cleaned is not None
        evidence = item.evidence
        if evidence is not None and (why := not_an_article(evidence, cleaned.text)):
            self.drop(item, "not_article", why)
        if len(cleaned.text) < self.min_text_chars:
            self.drop(
                item,
                "too_short",
                f"cleaned text has {len(cleaned.text)} characters, "
                f"fewer than NEWS_MIN_TEXT_CHARS={self.min_text_chars}",
            )
        item.title = cleaned.title or (evidence.listed_title if evidence else None)
        item.text = cleaned.text
        item.author = item.author or cleaned.author
        item.site_name = item.site_name or cleaned.site_name
        # The page's own date first; its listing's (feed entry, news sitemap) otherwise.
        item.published_at = (
            item.published_at
            or cleaned.published_at
            or (evidence.listed_date if evidence else None)
        )
        item.language = item.language or cleaned.language
        item.derived = outcome.derived
        return item

    def drop(self, item: ArticleItem, reason: str, detail: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"news/dropped/{reason}")
        raise DropItem(f"{reason}: {item.url}: {detail}")

"""Downloader middleware: an article already in the store is not downloaded again."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

ARTICLE_META = "news_article"


class StoredArticleFilter:
    """Drops requests for article URLs the store already holds, unless ``NEWS_REFRESH``.

    It sits in the downloader chain, so a redirect to a stored article is caught too.
    Spiders mark article requests with ``meta["news_article"] = True``.
    Stats: ``news/items/already_stored``.
    """

    def __init__(self, crawler: Crawler, refresh: bool) -> None:
        self.crawler = crawler
        self.refresh = refresh

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoredArticleFilter:
        return cls(crawler, crawler.settings.getbool("NEWS_REFRESH"))

    def process_request(self, request: Request, spider: Any = None) -> None:
        if self.refresh or not request.meta.get(ARTICLE_META):
            return
        from crawler.spiders.news import canonical_url
        from pipelines.storage import StoragePipeline

        storage = self.crawler.get_item_pipeline(StoragePipeline)
        store = storage.store if storage is not None else None
        if store is not None and store.has_url(canonical_url(request.url)):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("news/items/already_stored")
            raise IgnoreRequest(f"already stored: {request.url}")

"""Downloader middlewares: no stored article is downloaded again, and sitemaps and feeds are
requested conditionally."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest

from db.store import Store, utcnow
from pipelines.storage import StoragePipeline, store_closing

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

ARTICLE_META = "news_article"
LISTING_META = "news_listing"
# Set on a listing's response: when the store last fetched it in full (None: never).
PREVIOUS_FETCH_META = "news_previous_fetch"


def stored_store(crawler: Crawler) -> Any:
    """The store opened by the storage stage, or None."""

    storage = crawler.get_item_pipeline(StoragePipeline)
    return storage.store if storage is not None else None


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

        store = stored_store(self.crawler)
        if store is not None and store.has_url(canonical_url(request.url)):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("news/items/already_stored")
            raise IgnoreRequest(f"already stored: {request.url}")


class ConditionalListings:
    """Sends If-None-Match / If-Modified-Since for sitemaps and feeds fetched before.

    A 304 reaches the spider, which then has nothing to read. The validators of listings
    fetched in full are saved when the run finishes, and only then: a run that dies keeps
    the old ones, so whatever it did not store is listed again next time.
    Spiders mark listing requests with ``meta["news_listing"] = True``.
    Stats: ``news/listings/unchanged``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.fetched: dict[str, tuple[str | None, str | None]] = {}
        crawler.signals.connect(self.store_closing, signal=store_closing)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalListings:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        if not request.meta.get(LISTING_META) or PREVIOUS_FETCH_META in request.meta:
            return
        store = stored_store(self.crawler)
        known = store.get_source(request.url) if store is not None else None
        request.meta[PREVIOUS_FETCH_META] = known.fetched_at if known is not None else None
        request.meta.setdefault("handle_httpstatus_list", []).append(304)
        if known is not None:
            if known.etag:
                request.headers["If-None-Match"] = known.etag
            if known.last_modified:
                request.headers["If-Modified-Since"] = known.last_modified

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        if request.meta.get(LISTING_META):
            if response.status == 304:
                assert self.crawler.stats is not None
                self.crawler.stats.inc_value("news/listings/unchanged")
            elif response.status == 200:
                etag = response.headers.get("ETag")
                modified = response.headers.get("Last-Modified")
                self.fetched[request.url] = (
                    etag.decode("latin-1") if etag else None,
                    modified.decode("latin-1") if modified else None,
                )
        return response

    def store_closing(self, store: Store, reason: str) -> None:
        """Committed with the run's ledger row (see pipelines.storage.store_closing)."""
        if reason != "finished" or not self.fetched:
            return
        now = utcnow()
        for url, (etag, modified) in self.fetched.items():
            store.save_source(url, etag=etag, last_modified=modified, fetched_at=now)
        logger.info("Saved the validators of %d sitemaps and feeds", len(self.fetched))

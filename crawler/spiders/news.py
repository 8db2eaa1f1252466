"""The web source: articles from sitemaps, RSS/Atom feeds and the links of start pages."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import SitemapSpider
from twisted.python.failure import Failure

from crawler.items import ArticleItem
from crawler.middlewares import ARTICLE_META, LISTING_META, PREVIOUS_FETCH_META
from crawler.urls import canonical_url
from db.store import utcnow

logger = logging.getLogger(__name__)

# Links that cannot lead to an article page.
SKIPPED_EXTENSIONS = [
    "pdf", "jpg", "jpeg", "png", "gif", "webp", "svg", "mp3", "mp4", "avi", "mov", "zip",
    "gz", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "css", "js", "xml", "json",
]  # fmt: skip


def parse_listing_date(value: str | None) -> datetime | None:
    """A sitemap lastmod (W3C datetime) or a feed date (RFC 822 or ISO 8601), as naive UTC."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def split_urls(value: str | None) -> list[str]:
    return [url.strip() for url in (value or "").split(",") if url.strip()]


def load_sources(path: str) -> dict[str, list[str]]:
    """A TOML file of ``[[site]]`` tables with ``sitemaps``, ``feeds`` and ``start`` lists."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise NotConfigured(f"cannot read sources file {path}: {exc}") from exc
    found: dict[str, list[str]] = {"sitemaps": [], "feeds": [], "start": []}
    for site in data.get("site", []):
        for key in found:
            found[key] += [str(url) for url in site.get(key, [])]
    return found


class NewsSpider(SitemapSpider):
    """``scrapy crawl news -a sitemap=URL[,URL…] -a feed=URL[,URL…] -a start=URL[,URL…]``
    (or ``-a sources=FILE``).

    Sitemaps (and sitemap indexes) are read by Scrapy's SitemapSpider; feeds (RSS 2.0 and
    Atom) with Scrapy's selectors; start pages are followed within the allowed domains for
    ``NEWS_FOLLOW_DEPTH`` links. An article URL already in the store is not requested again
    unless ``NEWS_REFRESH`` is set (see crawler.middlewares).
    """

    name = "news"

    def __init__(
        self,
        sitemap: str | None = None,
        feed: str | None = None,
        start: str | None = None,
        sources: str | None = None,
        allowed: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        lists = load_sources(sources) if sources else {"sitemaps": [], "feeds": [], "start": []}
        self.sitemap_urls = [*split_urls(sitemap), *lists["sitemaps"]]
        self.feed_urls = [*split_urls(feed), *lists["feeds"]]
        self.start_pages = [*split_urls(start), *lists["start"]]
        every = [*self.sitemap_urls, *self.feed_urls, *self.start_pages]
        self.allowed_domains = split_urls(allowed) or sorted(
            {urlsplit(url).hostname or "" for url in every} - {""}
        )
        self.run_arguments = {
            "sitemap": self.sitemap_urls,
            "feed": self.feed_urls,
            "start": self.start_pages,
            "allowed": self.allowed_domains,
        }
        # Domains are checked on the link's host below: LinkExtractor's allow_domains
        # compares the host with its port.
        self.links = LinkExtractor(deny_extensions=SKIPPED_EXTENSIONS)
        self.follow_depth = 1  # NEWS_FOLLOW_DEPTH, set by from_crawler
        self.reached = 0  # sources (listings and start pages) that answered
        # When the sitemap being read was last read in full (set per response).
        self._listing_since: datetime | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.follow_depth = crawler.settings.getint("NEWS_FOLLOW_DEPTH")
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if not (self.sitemap_urls or self.feed_urls or self.start_pages):
            logger.error(
                "news: no source given; use -a sitemap=, -a feed=, -a start= or -a sources="
            )
            return
        for url in self.sitemap_urls:
            yield Request(
                url,
                callback=self._parse_sitemap,
                errback=self.fetch_error,
                meta={LISTING_META: True},
            )
        for url in self.feed_urls:
            yield Request(
                url, callback=self.parse_feed, errback=self.fetch_error, meta={LISTING_META: True}
            )
        for url in self.start_pages:
            yield Request(
                url, callback=self.parse_start, errback=self.fetch_error, meta={"hops": 0}
            )

    # -- discovery ---------------------------------------------------------------------------

    def _parse_sitemap(self, response: Response) -> Iterator[Any]:
        self.reached += 1
        if response.status == 304:
            return  # unchanged since the last run that read it
        # SitemapSpider yields requests for the article URLs (callback: parse) and for the
        # sitemaps of an index; sitemap_filter below sees the entries in between.
        self._listing_since = response.meta.get(PREVIOUS_FETCH_META)
        for request in super()._parse_sitemap(response):
            if request.callback == self.parse:
                yield from self.article_requests([request.url])
            else:
                yield request.replace(
                    errback=self.fetch_error, meta={**request.meta, LISTING_META: True}
                )

    def sitemap_filter(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Entries whose lastmod is older than the last full read of their sitemap are
        unchanged since: skipped."""
        since = self._listing_since
        for entry in entries:
            lastmod = parse_listing_date(entry.get("lastmod"))
            if since is not None and lastmod is not None and lastmod < since:
                self.crawler.stats.inc_value("news/listings/entries_unchanged")
                continue
            yield entry

    def parse_feed(self, response: Response) -> Iterator[Request]:
        self.reached += 1
        if response.status == 304:
            return  # unchanged since the last run that read it
        if not isinstance(response, TextResponse):
            self.count("not_a_feed", response.url, "the feed is not text")
            return
        since = response.meta.get(PREVIOUS_FETCH_META)
        selector = response.selector
        selector.remove_namespaces()
        entries = selector.xpath("//item | //entry")
        if not entries:
            self.count("not_a_feed", response.url, "no RSS item or Atom entry")
        links = []
        for entry in entries:
            link = (
                entry.xpath("link/text()").get()
                or entry.xpath("link[not(@rel) or @rel='alternate']/@href").get()
            )
            date = parse_listing_date(
                entry.xpath("pubDate/text() | updated/text() | published/text()").get()
            )
            if since is not None and date is not None and date < since:
                self.crawler.stats.inc_value("news/listings/entries_unchanged")
                continue
            if link:
                links.append(response.urljoin(link.strip()))
        yield from self.article_requests(links)

    def parse_start(self, response: Response) -> Iterator[Any]:
        if isinstance(response, HtmlResponse):
            hops = int(response.meta.get("hops", 0))
            self.reached += hops == 0
            if hops < self.follow_depth:
                links = [link.url for link in self.links.extract_links(response)]
                yield from self.article_requests(
                    [url for url in links if self.in_scope(url)], hops=hops + 1
                )
            if hops > 0:
                yield from self.parse(response)

    def article_requests(self, urls: Iterable[str], hops: int | None = None) -> Iterator[Request]:
        """Requests for candidate article pages; StoredArticleFilter skips stored ones."""
        for raw in urls:
            url = canonical_url(raw)
            if urlsplit(url).scheme not in ("http", "https"):
                continue
            if hops is None:
                yield Request(
                    url, callback=self.parse, errback=self.fetch_error, meta={ARTICLE_META: True}
                )
            else:
                yield Request(
                    url,
                    callback=self.parse_start,
                    errback=self.fetch_error,
                    meta={"hops": hops, ARTICLE_META: True},
                )

    def in_scope(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return any(host == d or host.endswith(f".{d}") for d in self.allowed_domains)

    # -- articles ----------------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[ArticleItem]:
        if not isinstance(response, HtmlResponse):
            content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
            self.count("non_html", response.url, f"content type {content_type or 'unknown'}")
            return
        og_type = response.xpath("//meta[@property='og:type']/@content").get()
        if og_type and og_type.strip().lower() != "article":
            self.count("not_article", response.url, f"og:type is {og_type!r}")
            return
        url = canonical_url(response.url)
        declared = (
            response.xpath("//link[@rel='canonical']/@href").get()
            or response.xpath("//meta[@property='og:url']/@content").get()
        )
        if declared:
            candidate = canonical_url(response.urljoin(declared.strip()))
            if self.in_scope(candidate):
                url = candidate
        yield ArticleItem(
            url=url,
            kind="html",
            raw=response.text,
            fetched_at=utcnow(),
            source=urlsplit(url).hostname,
        )

    def closed(self, reason: str) -> None:
        if (
            reason == "finished"
            and self.reached == 0
            and (self.sitemap_urls or self.feed_urls or self.start_pages)
        ):
            # Logged as an error, so the run is marked failed and exits 1.
            logger.error("news: no source could be reached")

    # -- failures ----------------------------------------------------------------------------

    def fetch_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        response = getattr(failure.value, "response", None)
        message = failure.getErrorMessage()
        if response is not None:
            self.count(f"http_{response.status}", url, f"HTTP {response.status}")
        elif "download max size" in message or "download warn size" in message:
            self.count("too_large", url, message)
        else:
            self.count("fetch_error", url, message)

    def count(self, reason: str, url: str, detail: str) -> None:
        logger.warning("Skipped %s: %s (%s)", url, reason, detail)
        self.crawler.stats.inc_value(f"news/dropped/{reason}")

"""The web source: articles from sitemaps, RSS/Atom feeds and the links of start pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from scrapy import Request
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse, XmlResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import Spider
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.internet.error import TimeoutError as ConnectTimeoutError
from twisted.python.failure import Failure

from crawler.items import ArticleItem
from crawler.listings import (
    IGNORED_REASONS,
    SKIPPED_EXTENSIONS,
    load_sources,
    parse_listing_date,
    split_urls,
    without_dtd,
)
from crawler.middlewares import ARTICLE_META, LISTING_META, PREVIOUS_FETCH_META, Refused
from crawler.rules import checked
from crawler.urls import canonical_url, in_domains
from db.records import utcnow

logger = logging.getLogger(__name__)

# How deep sitemap indexes may nest below a sitemap given on the command line.
SITEMAP_DEPTH_META = "news_sitemap_depth"


class NewsSpider(Spider):
    """``scrapy crawl news -a sitemap=URL[,URL…] -a feed=URL[,URL…] -a start=URL[,URL…]``
    (or ``-a sources=FILE``).

    Sitemaps (and sitemap indexes, and the sitemaps a robots.txt names) are streamed
    through Scrapy's sitemap parser; feeds (RSS 2.0 and Atom) are read with Scrapy's
    selectors; start pages are followed within the allowed domains for
    ``NEWS_FOLLOW_DEPTH`` links. An article URL already in the store is not requested again
    unless ``NEWS_REFRESH`` is set (see crawler.middlewares).
    """

    name = "news"
    # The -a arguments it takes (crawler.commands.crawl refuses any other).
    arguments = ("sitemap", "feed", "start", "sources", "allowed")

    @classmethod
    def check_arguments(cls, arguments: dict[str, str]) -> list[str]:
        """What is wrong with the -a arguments, one line each, before anything starts."""
        if arguments.get("sources"):
            try:
                load_sources(arguments["sources"])
            except ValueError as exc:
                return [str(exc)]
        return []

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
        # Limits, set by from_crawler from NEWS_FOLLOW_DEPTH and NEWS_SITEMAP_*.
        self.follow_depth = 1
        self.sitemap_depth = 3
        self.sitemap_max_urls = 50_000
        self.listing_max_bytes = 50 * 1024 * 1024
        self.reached = 0  # sources (listings and start pages) that answered

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.follow_depth = checked(settings, "NEWS_FOLLOW_DEPTH")
        spider.sitemap_depth = checked(settings, "NEWS_SITEMAP_DEPTH")
        spider.sitemap_max_urls = checked(settings, "NEWS_SITEMAP_MAX_URLS")
        spider.listing_max_bytes = checked(settings, "NEWS_LISTING_MAX_BYTES")
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if not (self.sitemap_urls or self.feed_urls or self.start_pages):
            logger.error(
                "news: no source given; use -a sitemap=, -a feed=, -a start= or -a sources="
            )
            return
        for url in self.sitemap_urls:
            yield self.listing_request(url, self._parse_sitemap, depth=0)
        for url in self.feed_urls:
            yield self.listing_request(url, self.parse_feed)
        for url in self.start_pages:
            yield Request(
                url, callback=self.parse_start, errback=self.fetch_error, meta={"hops": 0}
            )

    # -- discovery ---------------------------------------------------------------------------

    def listing_request(self, url: str, callback: Any, depth: int = 0) -> Request:
        """Sitemaps and feeds may be larger than an article page, up to
        NEWS_LISTING_MAX_BYTES (after decompression)."""
        return Request(
            url,
            callback=callback,
            errback=self.fetch_error,
            meta={
                LISTING_META: True,
                SITEMAP_DEPTH_META: depth,
                "download_maxsize": self.listing_max_bytes,
            },
        )

    def _parse_sitemap(self, response: Response) -> Iterator[Any]:
        """Streams the sitemap: entries are parsed and turned into requests one at a time,
        and at most NEWS_SITEMAP_MAX_URLS of them are read, so a huge sitemap costs no more
        memory than its body."""
        self.reached += 1
        if response.status == 304:
            return  # unchanged since the last run that read it
        depth = int(response.meta.get(SITEMAP_DEPTH_META, 0))
        if urlsplit(response.url).path == "/robots.txt":
            for url in sitemap_urls_from_robots(response.text, base_url=response.url):
                if self.allowed_url(url, response.url):
                    yield self.listing_request(url, self._parse_sitemap, depth=depth)
            return
        body = self.sitemap_body(response)
        if body is None:
            return
        defused = without_dtd(body)
        if defused is not None:
            self.count_entities(response.url)
            body = defused
        try:
            sitemap = Sitemap(body)
        except (etree.LxmlError, StopIteration) as exc:
            self.count("invalid_sitemap", response.url, f"not XML: {exc or 'empty'}")
            return
        if sitemap.type not in ("sitemapindex", "urlset"):
            self.count("invalid_sitemap", response.url, f"root element is {sitemap.type!r}")
            return
        if sitemap.type == "sitemapindex" and depth >= self.sitemap_depth:
            self.count(
                "sitemap_depth",
                response.url,
                f"sitemap index nested deeper than NEWS_SITEMAP_DEPTH ({self.sitemap_depth})",
            )
            return
        # Entries older than the last full read of this sitemap are unchanged since.
        since = response.meta.get(PREVIOUS_FETCH_META)
        entries = iter(sitemap)
        for read in range(self.sitemap_max_urls + 1):
            try:
                entry = next(entries, None)
            except etree.LxmlError as exc:
                self.count(
                    "invalid_sitemap", response.url, f"unreadable after {read} entries: {exc}"
                )
                return
            if entry is None:
                return
            if read == self.sitemap_max_urls:
                self.count(
                    "sitemap_truncated",
                    response.url,
                    f"more than NEWS_SITEMAP_MAX_URLS ({self.sitemap_max_urls}) entries; "
                    "the rest are not read",
                )
                return
            lastmod = parse_listing_date(entry.get("lastmod"))
            if since is not None and lastmod is not None and lastmod < since:
                self.crawler.stats.inc_value("news/listings/entries_unchanged")
                continue
            url = response.urljoin(entry["loc"])
            if sitemap.type == "urlset":
                yield from self.article_requests([url])
            elif self.allowed_url(url, response.url):
                yield self.listing_request(url, self._parse_sitemap, depth=depth + 1)

    def sitemap_body(self, response: Response) -> bytes | None:
        """The XML of a sitemap, gunzipped within NEWS_LISTING_MAX_BYTES, or None (counted)."""
        if gzip_magic_number(response):
            try:
                return gunzip(response.body, max_size=self.listing_max_bytes)
            except ValueError:
                self.count(
                    "too_large",
                    response.url,
                    f"gzipped sitemap over NEWS_LISTING_MAX_BYTES ({self.listing_max_bytes} B)",
                )
            except (OSError, EOFError) as exc:
                self.count("invalid_sitemap", response.url, f"corrupt gzip: {exc}")
            return None
        if isinstance(response, XmlResponse) or response.body[:1024].lstrip()[:1] == b"<":
            return response.body
        self.count("invalid_sitemap", response.url, "neither XML nor gzipped XML")
        return None

    def parse_feed(self, response: Response) -> Iterator[Request]:
        self.reached += 1
        if response.status == 304:
            return  # unchanged since the last run that read it
        if not isinstance(response, TextResponse):
            self.count("not_a_feed", response.url, "the feed is not text")
            return
        since = response.meta.get(PREVIOUS_FETCH_META)
        response = self.defused(response)
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
            if not (link and link.strip()):
                self.count("feed_entry_without_link", response.url, "an entry has no link")
                continue
            date = parse_listing_date(
                entry.xpath("pubDate/text() | updated/text() | published/text()").get()
            )
            if since is not None and date is not None and date < since:
                self.crawler.stats.inc_value("news/listings/entries_unchanged")
                continue
            links.append(response.urljoin(link.strip()))
        yield from self.article_requests(links)

    def defused(self, response: TextResponse) -> TextResponse:
        defused = without_dtd(response.body)
        if defused is None:
            return response
        self.count_entities(response.url)
        return response.replace(body=defused)

    def count_entities(self, url: str) -> None:
        self.count("xml_entities", url, "entity declarations removed; the rest is read")

    def parse_start(self, response: Response) -> Iterator[Any]:
        if isinstance(response, HtmlResponse):
            hops = int(response.meta.get("hops", 0))
            self.reached += hops == 0
            links = [link.url for link in self.links.extract_links(response)]
            if hops < self.follow_depth:
                # Pages link to other sites all the time: counted, but not worth a warning.
                # Other schemes go on, to be refused (and counted) by article_requests.
                inside = [
                    url
                    for url in links
                    if self.in_scope(url) or urlsplit(url).scheme not in ("http", "https")
                ]
                if len(inside) < len(links):
                    self.crawler.stats.inc_value(
                        "news/listings/links_offsite", len(links) - len(inside)
                    )
                yield from self.article_requests(inside, hops=hops + 1)
            elif links:
                # Every article page has links; not following them is the normal case,
                # and what ends endless pagination.
                self.crawler.stats.inc_value("news/listings/links_beyond_depth", len(links))
            if hops > 0:
                yield from self.parse(response)

    def article_requests(self, urls: Iterable[str], hops: int | None = None) -> Iterator[Request]:
        """Requests for candidate article pages; StoredArticleFilter skips stored ones."""
        for raw in urls:
            url = canonical_url(raw)
            if not self.allowed_url(url, raw):
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

    def allowed_url(self, url: str, shown: str) -> bool:
        """Only http(s) URLs within the allowed domains are requested; others are counted."""
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            self.count("unsupported_scheme", shown[:200], f"scheme {scheme or 'none'!r}")
            return False
        if not self.in_scope(url):
            self.count("offsite", shown[:200], f"outside {', '.join(self.allowed_domains)}")
            return False
        return True

    def in_scope(self, url: str) -> bool:
        return in_domains(url, self.allowed_domains)

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
        if isinstance(failure.value, Refused):
            return  # the middleware that refused it has logged and counted it
        response = getattr(failure.value, "response", None)
        message = failure.getErrorMessage()
        if response is not None:
            self.count(f"http_{response.status}", url, f"HTTP {response.status}")
        elif isinstance(failure.value, IgnoreRequest):
            reason = next((r for m, r in IGNORED_REASONS.items() if m in message), "ignored")
            self.count(reason, url, message)
        elif "download max size" in message or "download warn size" in message:
            self.count("too_large", url, message)
        elif isinstance(failure.value, (DownloadTimeoutError, ConnectTimeoutError)):
            self.count("timeout", url, message)
        else:
            self.count("fetch_error", url, message)

    def count(self, reason: str, url: str, detail: str) -> None:
        logger.warning("Skipped %s: %s (%s)", url, reason, detail)
        self.crawler.stats.inc_value(f"news/dropped/{reason}")

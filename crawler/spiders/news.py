"""The web source: articles from sitemaps, RSS/Atom feeds and the links of start pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import Spider
from scrapy.utils.gz import gunzip, gzip_magic_number
from twisted.python.failure import Failure

from crawler.backlog import Backlog
from crawler.charsets import to_text
from crawler.evidence import page_evidence
from crawler.feeds import FeedEntries
from crawler.frontier import Frontier
from crawler.items import ArticleItem
from crawler.listings import (
    SKIPPED_EXTENSIONS,
    failure_reason,
    load_sources,
    split_urls,
    without_dtd,
)
from crawler.middlewares import ARTICLE_META, LISTING_META, Refused
from crawler.revisits import LISTED_META, Listed, Revisits
from crawler.rules import checked
from crawler.sitemaps import SitemapEntries, listing_kind, robots_sitemaps, text_sitemap_entries
from crawler.urls import canonical_url, in_domains
from db.records import utcnow
from db.sites import site_domain

logger = logging.getLogger(__name__)

# How deep sitemap indexes may nest below a listing given on the command line.
SITEMAP_DEPTH_META = "news_sitemap_depth"
# "sitemap" or "feed": what the user called the listing, which names its failures.
ROLE_META = "news_listing_role"


class NewsSpider(Spider):
    """``scrapy crawl news -a sitemap=URL[,URL…] -a feed=URL[,URL…] -a start=URL[,URL…]``
    (or ``-a sources=FILE``).

    A sitemap or feed is read for what it is, whatever it was given as and whatever its
    Content-Type: XML sitemaps and indexes (with the news extension), plain-text sitemaps,
    RSS and Atom feeds (feedparser), and the sitemaps a robots.txt names. Start pages are
    followed within the allowed domains for ``NEWS_FOLLOW_DEPTH`` links. Entries reach the
    scheduler only as it has room (crawler/backlog.py), at most
    ``NEWS_MAX_ARTICLE_REQUESTS`` article requests a crawl. Which URLs are fetched is
    crawler/revisits.py's decision: not stored ones, and not those that failed before
    until they are due.
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
            {site_domain(url) for url in every} - {""}
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
        self.unreached = 0  # and those that failed, here
        self.revisits: Revisits | None = None
        self.backlog: Backlog | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.follow_depth = checked(settings, "NEWS_FOLLOW_DEPTH")
        spider.sitemap_depth = checked(settings, "NEWS_SITEMAP_DEPTH")
        spider.sitemap_max_urls = checked(settings, "NEWS_SITEMAP_MAX_URLS")
        spider.listing_max_bytes = checked(settings, "NEWS_LISTING_MAX_BYTES")
        spider.backlog = Backlog(
            crawler,
            checked(settings, "NEWS_MAX_ARTICLE_REQUESTS"),
            spider.count,
            lambda request: bool(request.meta.get(ARTICLE_META)),
        )
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if not (self.sitemap_urls or self.feed_urls or self.start_pages):
            logger.error(
                "news: no source given; use -a sitemap=, -a feed=, -a start= or -a sources="
            )
            return
        assert self.backlog is not None
        # Extensions are made after the spider: looked up now.
        self.revisits = self.crawler.get_extension(Revisits)
        # One process of a fleet: the listings are read once, by whichever process the
        # shared request filter lets through, and the backlog ends with the fleet.
        self.backlog.fleet = self.crawler.get_extension(Frontier)
        for url in filter(self.fetchable_source, self.sitemap_urls):
            yield self.backlog.track(self.listing_request(url, "sitemap"))
        for url in filter(self.fetchable_source, self.feed_urls):
            yield self.backlog.track(self.listing_request(url, "feed"))
        for url in filter(self.fetchable_source, self.start_pages):
            yield self.backlog.track(
                Request(url, callback=self.parse_start, errback=self.fetch_error, meta={"hops": 0})
            )
        async for request in self.backlog.drain():
            yield request

    # -- listings ------------------------------------------------------------------------------

    def listing_request(self, url: str, role: str, depth: int = 0) -> Request:
        """Sitemaps and feeds may be larger than an article page, up to
        NEWS_LISTING_MAX_BYTES (after decompression)."""
        return Request(
            url,
            callback=self.parse_listing,
            errback=self.fetch_error,
            meta={
                LISTING_META: True,
                ROLE_META: role,
                SITEMAP_DEPTH_META: depth,
                "download_maxsize": self.listing_max_bytes,
            },
        )

    def parse_listing(self, response: Response) -> None:
        """Reads what the listing is and hands its entries to the backlog."""
        assert self.backlog is not None
        self.backlog.done(response.meta)
        self.reached += 1
        if response.status == 304:
            return  # unchanged since the last run that read it
        role = response.meta.get(ROLE_META, "sitemap")
        depth = int(response.meta.get(SITEMAP_DEPTH_META, 0))
        failure = "not_a_feed" if role == "feed" else "invalid_sitemap"
        if urlsplit(response.url).path == "/robots.txt":
            self.backlog.push(response.url, self.robots_requests(response, depth))
            return
        body = self.listing_body(response, failure)
        if body is None:
            return
        defused = without_dtd(body)
        if defused is not None:
            self.count(
                "xml_entities", response.url, "entity declarations removed; the rest is read"
            )
            body = defused
        kind = listing_kind(body)
        entries: Iterable[Listed]
        if kind == "feed":
            headers = {
                key.decode("latin-1").lower(): b", ".join(values).decode("latin-1")
                for key, values in response.headers.items()
            }
            feed = FeedEntries(body, response.url, headers)
            if feed.problem:
                self.count(failure, response.url, feed.problem)
                return
            entries = feed
        elif kind == "urlset" or kind == "sitemapindex":
            if kind == "sitemapindex" and depth >= self.sitemap_depth:
                self.count(
                    "sitemap_depth",
                    response.url,
                    f"sitemap index nested deeper than NEWS_SITEMAP_DEPTH ({self.sitemap_depth})",
                )
                return
            entries = SitemapEntries(body)
        elif kind == "text":
            entries = text_sitemap_entries(body)
        else:
            what = "an HTML page" if kind == "html" else "neither a sitemap nor a feed"
            self.count(failure, response.url, f"{what}, not a listing")
            return
        self.backlog.push(
            response.url, self.entry_requests(response.url, entries, kind, role, depth)
        )

    def entry_requests(
        self, listing: str, entries: Iterable[Listed], kind: str, role: str, depth: int
    ) -> Iterator[Request | None]:
        """The listing's entries as requests (None for one skipped), at most
        NEWS_SITEMAP_MAX_URLS of them."""
        for read, listed in enumerate(entries):
            if read == self.sitemap_max_urls:
                self.count(
                    "sitemap_truncated",
                    listing,
                    f"more than NEWS_SITEMAP_MAX_URLS ({self.sitemap_max_urls}) entries; "
                    "the rest are not read",
                )
                return
            url = self.absolute(listing, listed.url)
            if url is None:
                yield None
            elif kind == "sitemapindex":
                yield (
                    self.listing_request(url, role, depth + 1)
                    if self.allowed_url(url, url)
                    else None
                )
            else:
                yield self.article_request(replace(listed, url=url))
        if isinstance(entries, SitemapEntries) and entries.error:
            self.count("invalid_sitemap", listing, entries.error)
        if isinstance(entries, FeedEntries) and entries.without_link:
            self.count(
                "feed_entry_without_link",
                listing,
                f"{entries.without_link} entries have no link to an article",
            )

    def robots_requests(self, response: Response, depth: int) -> Iterator[Request | None]:
        for raw in robots_sitemaps(response.body):
            url = self.absolute(response.url, raw)
            yield (
                self.listing_request(url, "sitemap", depth)
                if url and self.allowed_url(url, url)
                else None
            )

    def listing_body(self, response: Response, failure: str) -> bytes | None:
        """The listing's bytes, gunzipped within NEWS_LISTING_MAX_BYTES, or None (counted)."""
        if not gzip_magic_number(response):
            return response.body
        try:
            return gunzip(response.body, max_size=self.listing_max_bytes)
        except ValueError:
            self.count(
                "too_large",
                response.url,
                f"gzipped listing over NEWS_LISTING_MAX_BYTES ({self.listing_max_bytes} B)",
            )
        except (OSError, EOFError) as exc:
            self.count(failure, response.url, f"corrupt gzip: {exc}")
        return None

    def absolute(self, base: str, raw: str) -> str | None:
        """RAW resolved against BASE; None (counted as ``invalid_url``) when it is no URL."""
        try:
            url = urljoin(base, raw.strip())
            urlsplit(url).port  # noqa: B018 - raises ValueError on a bad port or host
        except ValueError as exc:
            self.count("invalid_url", raw[:200], str(exc))
            return None
        return url

    # -- start pages ---------------------------------------------------------------------------

    def parse_start(self, response: Response) -> Iterator[Any]:
        assert self.backlog is not None
        self.backlog.done(response.meta)
        return self._parse_start(response)

    def _parse_start(self, response: Response) -> Iterator[Any]:
        if not isinstance(response, HtmlResponse):
            if response.meta.get(ARTICLE_META):
                yield from self._article(response)
            return
        assert self.backlog is not None
        hops = int(response.meta.get("hops", 0))
        self.reached += hops == 0
        links = [link.url for link in self.links.extract_links(response)]
        if hops < self.follow_depth:
            self.backlog.push(response.url, self.link_requests(links, hops + 1))
        elif links:
            # Every article page has links; not following them is the normal case,
            # and what ends endless pagination.
            self.crawler.stats.inc_value("news/listings/links_beyond_depth", len(links))
        if hops > 0:
            yield from self._article(response)

    def link_requests(self, links: list[str], hops: int) -> Iterator[Request | None]:
        for url in links:
            # Pages link to other sites all the time: counted, but not worth a warning.
            # Other schemes go on, to be refused (and counted) by article_request.
            if self.in_scope(url) or urlsplit(url).scheme not in ("http", "https"):
                yield self.article_request(Listed(url), hops=hops)
            else:
                self.crawler.stats.inc_value("news/listings/links_offsite")
                yield None

    # -- article requests ----------------------------------------------------------------------

    def article_request(self, listed: Listed, hops: int | None = None) -> Request | None:
        """A request for a candidate article page; None (counted) for a URL that is not
        to be fetched: malformed, off the allowed domains, stored, or not due."""
        try:
            url = canonical_url(listed.url)
        except ValueError as exc:
            self.count("invalid_url", listed.url[:200], str(exc))
            return None
        if not self.allowed_url(url, listed.url):
            return None
        listed = replace(listed, url=url)
        meta: dict[str, Any] = {ARTICLE_META: True, LISTED_META: listed}
        if self.revisits is not None and self.revisits.skip_reason(listed, meta):
            return None
        if hops is None:
            return Request(url, callback=self.parse, errback=self.fetch_error, meta=meta)
        meta["hops"] = hops
        return Request(url, callback=self.parse_start, errback=self.fetch_error, meta=meta)

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
        try:
            return in_domains(url, self.allowed_domains)
        except ValueError:
            return False

    # -- articles ------------------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[ArticleItem]:
        assert self.backlog is not None
        self.backlog.done(response.meta)
        return self._article(response)

    def _article(self, response: Response) -> Iterator[ArticleItem]:
        if not isinstance(response, HtmlResponse):
            content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
            self.count("non_html", response.url, f"content type {content_type or 'unknown'}")
            self.note(response.meta, "non_html")
            return
        url = canonical_url(response.url)
        declared = (
            response.xpath("//link[@rel='canonical']/@href").get()
            or response.xpath("//meta[@property='og:url']/@content").get()
        )
        elsewhere = None
        if declared:
            try:
                candidate = canonical_url(response.urljoin(declared.strip()))
            except ValueError:
                candidate = url  # a malformed canonical link is ignored
            if site_domain(candidate) != site_domain(url):
                # Another site's URL: syndication, recorded; the page keeps its own URL.
                elsewhere = candidate
            elif self.in_scope(candidate):
                url = candidate
        listed = response.meta.get(LISTED_META)
        header = response.headers.get("Content-Type") or b""
        yield ArticleItem(
            url=url,
            kind="html",
            raw=to_text(response.body, True, header.decode("latin-1"))[1],
            fetched_at=utcnow(),
            source=urlsplit(url).hostname,
            canonical_url=elsewhere,
            evidence=page_evidence(response, url, listed if isinstance(listed, Listed) else None),
        )

    def closed(self, reason: str) -> None:
        if self.backlog is not None and self.backlog.fleet is not None:
            # In a fleet, any process may fetch the sources this one queued: only the one
            # that saw them fail, and none answer, can tell.
            unreachable = self.unreached > 0 and self.reached == 0
        else:
            unreachable = self.reached == 0 and bool(
                self.sitemap_urls or self.feed_urls or self.start_pages
            )
        if reason == "finished" and unreachable:
            # Logged as an error, so the run is marked failed and exits 1.
            logger.error("news: no source could be reached")

    # -- failures ------------------------------------------------------------------------------

    def fetch_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        if self.backlog is not None:
            self.backlog.done(meta)
        url = request.url if request is not None else "?"
        if meta.get(LISTING_META) or meta.get("hops") == 0:
            self.unreached += 1
        if isinstance(failure.value, Refused):
            # The middleware that refused it has logged and counted it.
            if self.revisits is not None and meta.get(ARTICLE_META):
                self.revisits.refused(meta, failure.getErrorMessage())
            return
        reason, detail = failure_reason(failure)
        self.count(reason, url, detail)
        self.note(meta, reason)

    def note(self, meta: dict[str, Any], reason: str) -> None:
        """Into the ledger of URLs not stored, for an article request."""
        if self.revisits is not None and meta.get(ARTICLE_META):
            self.revisits.note(meta, reason)

    def fetchable_source(self, url: str) -> bool:
        """A source URL is fetched only over HTTP(S); any other (javascript:, ftp:, one
        without a scheme) is refused alone, with its reason, and the other sources run."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
            self.count("unsupported_scheme", url[:200], f"{scheme}: only http and https")
            return False
        if not parts.hostname:
            self.count("invalid_url", url[:200], "no host")
            return False
        return True

    def count(self, reason: str, url: str, detail: str) -> None:
        logger.warning("Skipped %s: %s (%s)", url, reason, detail)
        self.crawler.stats.inc_value(f"news/dropped/{reason}")

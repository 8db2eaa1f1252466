"""Downloader middlewares: no request to private addresses, no stored article downloaded
again, and sitemaps and feeds requested conditionally."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured
from w3lib.url import safe_url_string

from crawler.rules import value
from crawler.store import CrawlStore, store_closing
from crawler.urls import in_domains, stored_url
from db.records import utcnow
from db.store import Store

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

ARTICLE_META = "news_article"
LISTING_META = "news_listing"
# Set on a listing request once its validators are added (a retry or redirect keeps them).
CONDITIONAL_META = "news_conditional"
# Set by crawler.revisits on the article requests it looked up: the URL it looked up.
CHECKED_META = "news_checked_url"


class Refused(IgnoreRequest):
    """A request refused by one of our middlewares, which has logged and counted why."""


# NAT64's well-known prefix (RFC 6052): an IPv6 address that a gateway turns into the
# IPv4 address in its last 32 bits. (The local-use 64:ff9b:1::/48 is not global at all.)
NAT64 = (ipaddress.ip_network("64:ff9b::/96"),)


def is_public(address: str) -> bool:
    """Whether ADDRESS is a public one, and so is any IPv4 address it carries inside it
    (6to4, NAT64, IPv4-mapped, Teredo): 2002:7f00:1:: is 127.0.0.1 by another name."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if any(ip in network for network in NAT64):
            inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return all(v4 is None or is_public(str(v4)) for v4 in inner)
    return True


class PrivateAddressGuard:
    """Refuses http(s) requests to hosts that resolve to private, loopback, link-local or
    otherwise non-public addresses, so that a crafted page, feed or redirect cannot make the
    crawler probe internal services. Off when ``NEWS_ALLOW_PRIVATE_ADDRESSES`` is set.

    Every address a name resolves to must be public. The check resolves the name itself,
    just before the download; a DNS answer that changes in between is not caught.
    Stats: ``news/dropped/private_address``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuard:
        if value(crawler.settings, "NEWS_ALLOW_PRIVATE_ADDRESSES"):
            raise NotConfigured("NEWS_ALLOW_PRIVATE_ADDRESSES is set")
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return  # file:// reads of the files source are not network targets
        host = parts.hostname
        try:
            addresses = [host] if _is_ip(host) else await _resolve(host)
        except OSError:
            return  # let the download fail and be counted as it would anyway
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("news/dropped/private_address")
            logger.warning(
                "Refused %s: %s resolves to non-public %s (NEWS_ALLOW_PRIVATE_ADDRESSES is off)",
                request.url,
                host,
                ", ".join(refused),
            )
            raise Refused(f"private address: {request.url}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class RedirectGuard:
    """Refuses a redirect back to a URL its chain has already visited (A → B → A), which
    the scheduler's duplicate filter would otherwise drop without a word, and a redirect to
    anything but http(s) or outside the spider's allowed domains. Chains that never repeat
    end at ``REDIRECT_MAX_TIMES``.
    Stats: ``news/dropped/redirect_loop``, ``…/unsupported_scheme``, ``…/offsite``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectGuard:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        location = response.headers.get("Location")
        if not (300 <= response.status < 400 and location):
            return response
        target = safe_url_string(urljoin(request.url, location.decode("latin-1")))
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target in chain:
            reason = "redirect_loop"
        elif urlsplit(target).scheme not in ("http", "https"):
            reason = "unsupported_scheme"
        elif (domains := getattr(self.crawler.spider, "allowed_domains", None)) and not (
            in_domains(target, domains)
        ):
            # Scrapy's offsite filter would drop it too, but silently.
            reason = "offsite"
        else:
            return response
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"news/dropped/{reason}")
        logger.warning("Skipped %s: %s (%s)", chain[0], reason, " → ".join([*chain, target]))
        raise Refused(f"{reason}: {request.url}")


class StoredArticleFilter:
    """Drops requests for article URLs the store already holds, unless ``NEWS_REFRESH``.

    It sits in the downloader chain, so a redirect to a stored article is caught too.
    Spiders mark article requests with ``meta["news_article"] = True``: the news spider's
    pages, and the files source's files, which a rerun over the same folder then neither
    reads nor extracts again.
    Stats: ``news/items/already_stored``.
    """

    def __init__(self, crawler: Crawler, crawl_store: CrawlStore, refresh: bool) -> None:
        self.crawler = crawler
        self.crawl_store = crawl_store
        self.refresh = refresh

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoredArticleFilter:
        return cls(
            crawler,
            CrawlStore.of(crawler, "StoredArticleFilter"),
            value(crawler.settings, "NEWS_REFRESH"),
        )

    def process_request(self, request: Request, spider: Any = None) -> None:
        if self.refresh or not request.meta.get(ARTICLE_META):
            return
        url = stored_url(request.url)
        if request.meta.get(CHECKED_META) == url:
            return  # looked up as the spider made it (crawler.revisits); not redirected since
        store = self.crawl_store.store
        if store is not None and store.has_url(url):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("news/items/already_stored")
            logger.debug("Already stored, not fetched: %s", request.url)
            raise Refused(f"already stored: {request.url}")


class ConditionalListings:
    """Sends If-None-Match / If-Modified-Since for sitemaps and feeds fetched before.

    A 304 reaches the spider, which then has nothing to read. The validators of listings
    fetched in full are saved when the run finishes, and only then: a run that dies keeps
    the old ones, so whatever it did not store is listed again next time.
    Spiders mark listing requests with ``meta["news_listing"] = True``.
    Stats: ``news/listings/unchanged``.
    """

    def __init__(self, crawler: Crawler, crawl_store: CrawlStore) -> None:
        self.crawler = crawler
        self.crawl_store = crawl_store
        self.fetched: dict[str, tuple[str | None, str | None]] = {}
        crawler.signals.connect(self.store_closing, signal=store_closing)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalListings:
        return cls(crawler, CrawlStore.of(crawler, "ConditionalListings"))

    def process_request(self, request: Request, spider: Any = None) -> None:
        if not request.meta.get(LISTING_META) or CONDITIONAL_META in request.meta:
            return
        store = self.crawl_store.store
        known = store.get_source(request.url) if store is not None else None
        request.meta[CONDITIONAL_META] = True
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
        """Committed with the run's ledger row (see crawler.store.store_closing)."""
        if reason != "finished" or not self.fetched:
            return
        now = utcnow()
        for url, (etag, modified) in self.fetched.items():
            store.save_source(url, etag=etag, last_modified=modified, fetched_at=now)
        logger.info("Saved the validators of %d sitemaps and feeds", len(self.fetched))

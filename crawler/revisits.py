"""Which article URLs a run fetches: not those already stored, and not those that were
fetched before and not stored, until they are due again (the ``urls`` ledger)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.middlewares import ARTICLE_META, CHECKED_META
from crawler.rules import value
from crawler.store import CrawlStore
from db.records import UnstoredEntry, utcnow

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from db.store import Store

logger = logging.getLogger(__name__)

# On an article request: what its listing said of it (a Listed).
LISTED_META = "news_listed"
# On an article request whose URL the ledger holds: the row goes once it is stored.
REVISIT_META = "news_revisit"

# Reasons that say nothing about the page: the next attempt may well succeed. Every
# other reason (not_article, too_short, http_404, …) is the page's own and waits
# NEWS_REVISIT_AFTER_HOURS.
TRANSIENT_REASONS = frozenset({"timeout", "fetch_error", "http_408", "http_425", "http_429"})
# A listed URL whose article is stored under another URL (its canonical link's).
ALIAS_REASON = "alias"
# Why a middleware refused a redirect (crawler.middlewares: "REASON: URL"), and what the
# ledger notes of the listed URL that led to it: a page was fetched all the same.
REDIRECTS_REFUSED = {
    "already stored": ALIAS_REASON,
    "redirect_loop": "redirect_loop",
    "offsite": "redirected_offsite",
    "unsupported_scheme": "redirected_offsite",
}
# Outcomes that are not the page's: never recorded.
UNRECORDED_REASONS = frozenset(
    {
        "already_stored",
        "store_error",
        "store_unavailable",
        "offsite",
        "unsupported_scheme",
        "invalid_url",
        "private_address",
        "listing_truncated",
    }
)


def is_transient(reason: str) -> bool:
    return reason in TRANSIENT_REASONS or reason.startswith("http_5")


@dataclass(frozen=True)
class Listed:
    """An article URL as a listing (or a start page) gave it: the URL (canonicalized by the
    spider before it makes the request, so canonical in every request's meta: the ledger's
    key), the date the listing shows (sitemap lastmod, news sitemap or feed entry date), the
    title it shows, and whether the listing presents it as an article (a feed entry, a
    news sitemap entry)."""

    url: str
    date: datetime | None = None
    title: str | None = None
    claim: bool = False


class Revisits:
    """Decides whether an article URL is fetched, and records in the store's ``urls``
    ledger every article that was fetched (or refused for what it is) and not stored.

    A URL in the ledger is fetched again when its listing shows a newer date than at the
    last attempt, or when its time has come: ``NEWS_REVISIT_AFTER_HOURS`` after the last
    attempt for reasons of the page's own (``not_article``, ``too_short``, ``http_404``);
    for transient ones (5xx, 429, timeouts, connection errors) ``NEWS_REVISIT_BACKOFF_HOURS``,
    doubled with every failed attempt, up to the former. ``NEWS_REFRESH`` fetches
    everything. A stored article's row goes in the same transaction as the article.
    A stored article is fetched again when its listing shows a date newer than its fetch
    (a possible revision, pipelines/dedup.py decides).
    Stats: ``news/items/already_stored``, ``…/not_due``, ``…/revisited``, ``…/refetched``.
    """

    def __init__(
        self,
        crawler: Crawler,
        crawl_store: CrawlStore | None,
        *,
        after: timedelta,
        backoff: timedelta,
        refresh: bool,
    ) -> None:
        self.crawler = crawler
        self.crawl_store = crawl_store
        self.after = after
        self.backoff = backoff
        self.refresh = refresh
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Revisits:
        settings = crawler.settings
        return cls(
            crawler,
            None,  # the crawl's store, once the extensions all exist (spider_opened)
            after=timedelta(hours=value(settings, "NEWS_REVISIT_AFTER_HOURS")),
            backoff=timedelta(hours=value(settings, "NEWS_REVISIT_BACKOFF_HOURS")),
            refresh=value(settings, "NEWS_REFRESH"),
        )

    @classmethod
    def of(cls, crawler: Crawler, component: str) -> Revisits:
        found = crawler.get_extension(cls)
        if found is None:
            raise NotConfigured(f"{component} needs crawler.revisits.Revisits in EXTENSIONS")
        return found

    def spider_opened(self) -> None:
        if self.crawl_store is None:
            self.crawl_store = CrawlStore.of(self.crawler, "Revisits")

    @property
    def store(self) -> Store | None:
        return self.crawl_store.store if self.crawl_store is not None else None

    # -- before a request --------------------------------------------------------------------

    def skip_reason(self, listed: Listed, meta: dict[str, Any] | None = None) -> str | None:
        """Why LISTED is not fetched ("already_stored", "not_due"), or None to fetch it;
        counted. META, the request's, is marked when the ledger holds the URL."""
        store = self.store
        if self.refresh or store is None:
            return None
        url = listed.url
        stored_at, entry = store.url_state(url)
        if meta is not None:
            meta[CHECKED_META] = url  # StoredArticleFilter need not ask again
        if stored_at is not None:
            if listed.date is not None and listed.date > stored_at:
                # Its listing says it changed since: fetched again, a possible revision.
                self.inc("news/items/refetched")
                return None
            self.inc("news/items/already_stored")
            return "already_stored"
        if entry is None:
            return None
        if not self.due(entry, listed.date):
            self.inc("news/items/not_due")
            return "not_due"
        self.inc("news/items/revisited")
        if meta is not None:
            meta[REVISIT_META] = True
        return None

    def due(
        self, entry: UnstoredEntry, listed_at: datetime | None, now: datetime | None = None
    ) -> bool:
        if listed_at is not None and (entry.listed_at is None or listed_at > entry.listed_at):
            return True  # the listing says the page changed since
        return (now or utcnow()) >= entry.last_attempt + self.wait(entry)

    def wait(self, entry: UnstoredEntry) -> timedelta:
        if not is_transient(entry.reason):
            return self.after
        backoff: timedelta = self.backoff * 2 ** min(entry.attempts - 1, 20)
        return min(backoff, self.after)

    # -- after it ----------------------------------------------------------------------------

    def note(self, meta: dict[str, Any], reason: str) -> None:
        """An article request (META, its meta) ended without an article for REASON."""
        listed = meta.get(LISTED_META)
        store = self.store
        if not isinstance(listed, Listed) or store is None or reason in UNRECORDED_REASONS:
            return
        store.note_unstored(listed.url, reason, utcnow(), listed.date)

    def refused(self, meta: dict[str, Any], message: str) -> None:
        """An article request a middleware refused with MESSAGE: a refused redirect goes
        into the ledger (a refused private address was never fetched)."""
        reason = REDIRECTS_REFUSED.get(message.split(":", 1)[0])
        if reason is not None:
            self.note(meta, reason)

    def request_dropped(self, request: Any) -> None:
        """A redirect the scheduler dropped as a duplicate leads to a page this run fetches
        under its own URL: the listed URL that redirected is an alias of it."""
        if request.meta.get("redirect_urls") and request.meta.get(ARTICLE_META):
            self.note(request.meta, ALIAS_REASON)

    def item_dropped(self, item: Any, response: Response | None, exception: BaseException) -> None:
        if response is None:
            return
        # Our stages' DropItem messages start with the reason: "too_short: URL: …".
        reason = str(exception).split(":", 1)[0]
        if reason == "already_stored":
            self._alias(item, response)
        elif reason.isidentifier():
            self.note(response.meta, reason)

    def item_scraped(self, item: Any, response: Response | None) -> None:
        if response is None:
            return
        listed = response.meta.get(LISTED_META)
        store = self.store
        if not isinstance(listed, Listed) or store is None:
            return
        if response.meta.get(REVISIT_META):
            store.forget_unstored(listed.url)
        self._alias(item, response)

    def _alias(self, item: Any, response: Response) -> None:
        """The page at the listed URL is an article stored under another URL (its
        canonical link's): the listed URL goes into the ledger as an ``alias``, so it is
        not fetched again at every run."""
        listed = response.meta.get(LISTED_META)
        if isinstance(listed, Listed) and listed.url != getattr(item, "url", None):
            self.note(response.meta, ALIAS_REASON)

    def inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

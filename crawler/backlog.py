"""The requests that listings and pages hold, handed to the engine only as it has room.

A sitemap index of ten sitemaps of 50,000 URLs each would otherwise put half a million
requests in the scheduler at once: memory grows with them, and a stop signal waits for
them. Here each listing's entries stay an iterator until the downloader can take more,
so the scheduler holds a handful of requests, memory stays flat, and a stop is prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.frontier import Frontier

logger = logging.getLogger(__name__)

# Every request the spider makes carries one; it is done when its callback or errback has
# run, or when the scheduler drops it.
TOKEN_META = "news_token"
# How many entries one step may look at before it lets the reactor run (entries that
# are skipped, such as stored articles, cost a look-up each).
ENTRIES_PER_STEP = 500


class Backlog:
    """A stack of request iterators, one per listing or page, fed to the engine
    depth-first (the newest first: a sitemap is drained before its index yields the next
    one), with a cap on the article requests of the whole crawl.

    ``count(reason, url, detail)`` is told of a listing cut short by the cap."""

    def __init__(
        self,
        crawler: Crawler,
        max_articles: int,
        count: Callable[[str, str, str], None],
        is_article: Callable[[Request], bool],
    ) -> None:
        self.crawler = crawler
        self.max_articles = max_articles
        self.count = count
        self.is_article = is_article
        self.stack: list[tuple[str, Iterator[Request | None]]] = []
        self.in_flight: set[int] = set()
        self.articles = 0
        self.truncated = False
        # One process of a fleet (crawler/frontier.py): set by the spider as it starts.
        self.fleet: Frontier | None = None
        self._tokens = itertools.count(1)
        self._changed = asyncio.Event()
        for signal in (
            signals.request_left_downloader,
            signals.request_dropped,
            signals.item_scraped,
            signals.item_dropped,
        ):
            crawler.signals.connect(self._wake, signal=signal)
        crawler.signals.connect(self._dropped, signal=signals.request_dropped)

    # -- bookkeeping ---------------------------------------------------------------------------

    def track(self, request: Request) -> Request:
        token = next(self._tokens)
        request.meta[TOKEN_META] = token
        self.in_flight.add(token)
        return request

    def done(self, meta: dict[str, Any]) -> None:
        """The request with META is answered (its callback or errback runs)."""
        self.in_flight.discard(meta.get(TOKEN_META, 0))
        self._changed.set()

    def _dropped(self, request: Request, **_kwargs: Any) -> None:
        self.done(request.meta)

    def _wake(self, **_kwargs: Any) -> None:
        self._changed.set()

    def push(self, source: str, requests: Iterator[Request | None]) -> None:
        """The requests of SOURCE (a listing or page URL), None standing for an entry
        that was skipped."""
        if self.truncated:
            self.count("listing_truncated", source, self._cap_text())
            return
        self.stack.append((source, requests))
        self._changed.set()

    # -- feeding the engine ------------------------------------------------------------------

    def _next(self) -> Request | bool | None:
        """The next request; None when there is none now; False when a step's budget of
        entries is spent."""
        for _ in range(ENTRIES_PER_STEP):
            if not self.stack:
                return None
            source, requests = self.stack[-1]
            try:
                request = next(requests, False)
            except Exception:
                # A bug in reading one listing must not stop the others.
                logger.exception("Stopped reading %s after an error", source)
                request = False
            if request is False:
                self.stack.pop()
                continue
            if request is None:
                continue
            assert isinstance(request, Request)
            if self.is_article(request):
                if self.articles >= self.max_articles:
                    self._truncate()
                    return None
                self.articles += 1
            return self.track(request)
        return False

    def _truncate(self) -> None:
        self.truncated = True
        for source, _requests in self.stack:
            self.count("listing_truncated", source, self._cap_text())
        self.stack.clear()

    def _cap_text(self) -> str:
        return (
            f"NEWS_MAX_ARTICLE_REQUESTS ({self.max_articles}) article requests queued "
            "in this crawl; the rest are not read"
        )

    async def drain(self) -> AsyncIterator[Request]:
        """Requests for the engine, as it has room, until nothing is left or in flight."""
        if self.fleet is not None:
            from crawler.frontier import FrontierLost

            try:
                async for shared in self._drain_fleet(self.fleet):
                    yield shared
            except FrontierLost as exc:
                self.fleet.stop(exc)
            return
        engine = self.crawler.engine
        assert engine is not None
        idle_checks = 0
        while True:
            if self._closing():
                return
            if engine.needs_backout():
                await self._wait()
                continue
            request = self._next()
            if isinstance(request, Request):
                idle_checks = 0
                yield request
                continue
            if request is False:
                await asyncio.sleep(0)
                continue
            if not self.in_flight:
                return
            if self._engine_idle():
                # Every request was answered, yet some token was never handed back: end
                # rather than wait forever.
                idle_checks += 1
                if idle_checks >= 3:
                    logger.warning("Lost track of %d requests; finishing", len(self.in_flight))
                    return
            await self._wait()

    async def _drain_fleet(self, fleet: Frontier) -> AsyncIterator[Request]:
        """As drain, for one process of a fleet: requests go to the shared queue while it
        holds fewer than a few thousand, whichever process fetches them, so no token comes
        back. This process ends when the fleet is done (Frontier.may_leave): until then a
        listing that another process queued may reach it, and its entries start here."""
        engine = self.crawler.engine
        assert engine is not None
        while True:
            if self._closing():
                return
            idle_here = self._engine_idle(local=True)
            fleet.beat(busy=bool(self.stack) or not idle_here)
            if self.stack and not fleet.room():
                await self._wait()
                continue
            request = self._next()
            if isinstance(request, Request):
                yield request
                continue
            if request is False:
                await asyncio.sleep(0)
                continue
            if fleet.may_leave(idle_here):
                return
            if not engine.needs_backout() and fleet.queued():
                # Other processes' requests: the engine would look at the queue only at
                # its next 5 s heartbeat.
                slot = getattr(engine, "_slot", None)
                if slot is not None:
                    slot.nextcall.schedule()
            await self._wait()

    def _closing(self) -> bool:
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        return (
            engine is None
            or not engine.running
            or engine.spider is None
            or slot is None
            or bool(slot.closing)
        )

    def _engine_idle(self, local: bool = False) -> bool:
        """Nothing scheduled, downloading or in the stages; LOCAL leaves out the scheduler
        (a fleet's is shared, and asked for by Frontier.may_leave)."""
        engine = self.crawler.engine
        assert engine is not None
        slot = getattr(engine, "_slot", None)
        scheduler = getattr(slot, "scheduler", None)
        pending = (
            False
            if local
            else (scheduler.has_pending_requests() if scheduler is not None else True)
        )
        scraper_slot = engine.scraper.slot
        return (
            not pending
            and not engine.downloader.active
            and (scraper_slot is None or scraper_slot.is_idle())
        )

    async def _wait(self) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout=1.0)

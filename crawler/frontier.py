"""The fleet's shared frontier: with ``NEWS_FRONTIER_URL``, the scheduler's queue and its
request filter live in Redis (scrapy-redis), and the processes that share them are one
crawl. What scrapy-redis leaves out is here: which processes are working, when the crawl is
over for all of them, the fleet's id, and what a Redis outage does.

Keys, all under ``newsdedup:<name>:`` in the frontier's Redis database, where the name is
``NEWS_FRONTIER_NAME`` (the spider's name by default):
``requests`` (scrapy-redis's queue), ``seen`` (its request fingerprints), ``fleet`` (the
fleet's id), ``workers`` and ``busy`` (each process's last heartbeat, and the last time it
had work), ``files`` (the warc source's files, shared out). The last process to leave
deletes them all, so the next crawl starts afresh; which articles are stored is the
store's to say, not the frontier's.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from scrapy import signals
from scrapy.core.scheduler import Scheduler
from scrapy.exceptions import NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from crawler.rules import checked
from crawler.store import stop_run
from db.runs import process_alive

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

# scrapy-redis 0.9 still hands the spider to the stats collector, which Scrapy deprecates:
# two warnings in every fleet process's log that no operator can act on.
warnings.filterwarnings(
    "ignore", message="Passing a 'spider' argument to StatsCollector", module="scrapy_redis"
)

T = TypeVar("T")

# A process whose heartbeat is older than this is gone (killed, or its machine down). On
# this host a gone process is known at once, by its pid.
LIVE_SECONDS = 30.0
# How often a process tells the others it is alive, and whether it has work.
BEAT_SECONDS = 0.5
# How many requests the listings keep queued in Redis ahead of the fleet: enough to keep
# every process's downloader full between two looks at the queue's length.
QUEUE_AHEAD = 2000
# Set when NEWS_FRONTIER_URL is given but the frontier cannot be used; the reason.
UNAVAILABLE_STAT = "news/frontier/unavailable"

# A new fleet when no process is registered: stale keys of a crawl that ended without
# cleaning up (every process killed) go, the id is new. Then this process is registered.
_JOIN = """
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', unpack(KEYS, 2))
  redis.call('SET', KEYS[3], ARGV[3])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('GET', KEYS[3])
"""
# This process leaves; the last one out deletes the crawl's keys.
_LEAVE = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', unpack(KEYS, 2))
  return 1
end
return 0
"""


class FrontierLost(Exception):
    """Redis did not answer within NEWS_FRONTIER_RETRY seconds."""


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def frontier_keys(name: str) -> dict[str, str]:
    prefix = f"newsdedup:{name}:"
    names = ("workers", "busy", "fleet", "requests", "seen", "files")
    return {name: prefix + name for name in names}


class FrontierAddon:
    """Turns the shared frontier on when ``NEWS_FRONTIER_URL`` is set (in ADDONS): the
    scheduler becomes scrapy-redis's (FleetScheduler)."""

    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("NEWS_FRONTIER_URL"):
            return
        settings.set("SCHEDULER", "crawler.frontier.FleetScheduler", priority="addon")


class Frontier:
    """One process's membership of the fleet (an extension; NotConfigured without
    ``NEWS_FRONTIER_URL``).

    Settings: ``NEWS_FRONTIER_URL`` (``redis://HOST:PORT/DB``), ``NEWS_FRONTIER_NAME``
    (the crawl's name in Redis: processes with the same URL and name are one fleet),
    ``NEWS_FRONTIER_IDLE`` (seconds an empty frontier is waited on, with no process
    working, before this one leaves), ``NEWS_FRONTIER_RETRY`` (seconds Redis may be
    unreachable before the run stops, retried with backoff meanwhile).
    Stats: ``news/frontier/fleet_id``, ``news/frontier/unavailable`` (why a process asked
    to join a fleet could not).
    """

    def __init__(self, crawler: Crawler, *, url: str, idle: float, retry: float, name: str) -> None:
        self.crawler = crawler
        self.url = url
        self.idle = idle
        self.retry = retry
        self.keys = frontier_keys(name)
        # As the Lua scripts take them: the registry first, the fleet's id third.
        self.ordered = list(self.keys.values())
        self.server = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.host = socket.gethostname()
        self.me = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lost: str | None = None
        self.fleet_id: str | None = None
        self._beat_at = 0.0
        self._idle_since: float | None = None
        self._room = 0
        self._join = self.server.register_script(_JOIN)
        self._leave = self.server.register_script(_LEAVE)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Frontier:
        settings = crawler.settings
        if not settings.get("NEWS_FRONTIER_URL"):
            raise NotConfigured("no NEWS_FRONTIER_URL: this process crawls alone")
        spidercls = crawler.spidercls
        try:
            frontier = cls(
                crawler,
                url=checked(settings, "NEWS_FRONTIER_URL"),
                idle=checked(settings, "NEWS_FRONTIER_IDLE"),
                retry=checked(settings, "NEWS_FRONTIER_RETRY"),
                name=checked(settings, "NEWS_FRONTIER_NAME")
                or (spidercls.name if spidercls is not None else "crawl"),
            )
            # Joined now: the crawl's store records the fleet id with the run, and the
            # store is claimed before spider_opened.
            frontier.join()
        except (ValueError, FrontierLost) as exc:
            # The crawl's store stops the run with this, before it claims the store: a
            # process asked to be one of a fleet must not crawl alone.
            if crawler.stats is not None:
                crawler.stats.set_value(UNAVAILABLE_STAT, f"NEWS_FRONTIER_URL: {exc}")
            raise NotConfigured(str(exc)) from exc
        if crawler.stats is not None:
            crawler.stats.set_value("news/frontier/fleet_id", frontier.fleet_id)
        crawler.signals.connect(frontier.spider_closed, signal=signals.spider_closed)
        return frontier

    # -- Redis, retried ------------------------------------------------------------------------

    def call(self, what: Callable[[], T]) -> T:
        """WHAT's answer from Redis, retried with doubling pauses for NEWS_FRONTIER_RETRY
        seconds (a restart, a dropped connection); FrontierLost after that."""
        deadline = time.monotonic() + self.retry
        pause = 0.25
        while True:
            try:
                return what()
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FrontierLost(
                        f"the frontier at {self.url} did not answer for {self.retry:g} s "
                        f"(NEWS_FRONTIER_RETRY): {exc}"
                    ) from exc
                logger.warning("Frontier unreachable (%s); retrying in %.2g s", exc, pause)
                time.sleep(min(pause, left))
                pause = min(pause * 2, 5.0)

    def stop(self, exc: FrontierLost) -> None:
        """The run cannot go on without its frontier: say why, once, and stop."""
        if self.lost is None:
            self.lost = str(exc)
            stop_run(self.crawler, f"Stopping the run: {exc}", "frontier_lost")

    def now(self) -> float:
        seconds, micros = self.call(self.server.time)
        return seconds + micros / 1e6

    # -- membership ----------------------------------------------------------------------------

    def join(self) -> None:
        keys = self.keys
        self.prune()
        candidate = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        now = self.now()
        fleet = self.call(lambda: self._join(keys=self.ordered, args=[self.me, now, candidate]))
        self.fleet_id = _text(fleet)
        self.call(lambda: self.server.hset(keys["busy"], self.me, now))
        logger.info("Joined fleet %s at %s as %s", self.fleet_id, self.url, self.me)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        try:
            self.prune()
            last = self.call(lambda: self._leave(keys=self.ordered, args=[self.me]))
        except FrontierLost as exc:
            logger.error("Could not leave the fleet cleanly: %s", exc)
            return
        if last:
            logger.info("Last process of fleet %s out: the frontier is cleared", self.fleet_id)

    def prune(self) -> None:
        """Forget the processes that are gone: on this host, by pid; anywhere, by their
        heartbeat's age."""
        workers = self.call(lambda: self.server.hgetall(self.keys["workers"]))
        if not workers:
            return
        now = self.now()
        gone = []
        for raw, seen in workers.items():
            worker = _text(raw)
            host, _, rest = worker.partition(":")
            pid = int(rest.split(":", 1)[0] or 0)
            if worker == self.me:
                continue
            # By its age too on this host: a pid may have been reused.
            if (host == self.host and not process_alive(pid)) or now - float(seen) > LIVE_SECONDS:
                gone.append(worker)
        if gone:
            logger.warning("Fleet processes gone without leaving: %s", ", ".join(gone))
            self.call(lambda: self.server.hdel(self.keys["workers"], *gone))
            self.call(lambda: self.server.hdel(self.keys["busy"], *gone))

    # -- the crawl's course --------------------------------------------------------------------

    def queued(self) -> int:
        return int(self.call(lambda: self.server.zcard(self.keys["requests"])))

    def room(self) -> bool:
        """Whether the listings may queue one more request (QUEUE_AHEAD in Redis); the
        queue's length is asked for once per batch of requests."""
        if self._room <= 0:
            self._room = QUEUE_AHEAD - self.queued()
        if self._room <= 0:
            return False
        self._room -= 1
        return True

    def claim(self, member: str) -> bool:
        """Whether this process takes MEMBER (a file of the warc source): the first process
        of the fleet to ask gets it, and every other is told no."""
        return bool(self.call(lambda: self.server.sadd(self.keys["files"], member)))

    def beat(self, busy: bool) -> None:
        """Tell the others this process is alive, and whether it has work (at most every
        BEAT_SECONDS)."""
        if time.monotonic() - self._beat_at < BEAT_SECONDS:
            return
        self._beat_at = time.monotonic()
        now = self.now()
        with self.server.pipeline() as pipe:
            pipe.hset(self.keys["workers"], self.me, now)
            if busy:
                pipe.hset(self.keys["busy"], self.me, now)
            self.call(pipe.execute)

    def may_leave(self, idle_here: bool) -> bool:
        """Whether this process is done: nothing here, nothing queued, and no process has
        had work for NEWS_FRONTIER_IDLE seconds (any of them may still queue some)."""
        if not idle_here or self.queued() > 0:
            self._idle_since = None
            return False
        now = self.now()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self.idle:
            return False
        self.prune()
        busy = self.call(lambda: self.server.hgetall(self.keys["busy"]))
        working = [
            _text(raw)
            for raw, at in busy.items()
            if _text(raw) != self.me and now - float(at) < self.idle
        ]
        return not working


class FleetScheduler(RedisScheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler on the fleet's keys, with every Redis call retried through
    the Frontier; when Redis stays away, the run stops with the reason instead of raising
    inside the engine's loop."""

    frontier: Frontier

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FleetScheduler:
        frontier = crawler.get_extension(Frontier)
        if frontier is None:
            # The frontier is unavailable, and the crawl's store is stopping the run with
            # the reason: Scrapy's own scheduler sees it out.
            return Scheduler.from_crawler(crawler)  # type: ignore[return-value]
        keys = frontier.keys
        scheduler = cls(
            server=frontier.server,
            persist=True,
            queue_key=keys["requests"],
            dupefilter=RFPDupeFilter(frontier.server, key=keys["seen"]),
        )
        scheduler.frontier = frontier
        scheduler.stats = crawler.stats
        return scheduler

    def open(self, spider: Spider) -> None:
        self._guarded(lambda: super(FleetScheduler, self).open(spider), None)

    def close(self, reason: str) -> None:
        """Kept: the fleet's last process clears the frontier (Frontier.spider_closed)."""

    def enqueue_request(self, request: Request) -> bool:
        return bool(
            self._guarded(lambda: super(FleetScheduler, self).enqueue_request(request), False)
        )

    def next_request(self) -> Request | None:
        request: Request | None = self._guarded(
            lambda: super(FleetScheduler, self).next_request(), None
        )
        return request

    def has_pending_requests(self) -> bool:
        return bool(
            self._guarded(lambda: super(FleetScheduler, self).has_pending_requests(), False)
        )

    def _guarded(self, what: Callable[[], Any], otherwise: Any) -> Any:
        if self.frontier.lost is not None:
            return otherwise
        try:
            return self.frontier.call(what)
        except FrontierLost as exc:
            self.frontier.stop(exc)
            return otherwise

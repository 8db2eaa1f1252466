"""The crawl's store: one component, built once per crawl as an extension, that the stages and
middlewares are handed. It opens the store and claims it with a run in the ledger, holds the
per-document derivations the cleaning stage makes for later stages, and closes the run."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.conf import build_component_list
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object

from crawler.rules import checked
from db.base import StoreError
from db.records import RunCounts
from db.runs import StoreBusy, WaitInterrupted
from db.store import Store

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

    from crawler.items import Derivation

logger = logging.getLogger(__name__)

STAT_PREFIX = "news/"
# Seconds this run waited for a shared store's decision lock, and held it
# (db.base.StoreBase.lock_decisions).
WAIT_STAT = f"{STAT_PREFIX}store/decision_lock_seconds"
HELD_STAT = f"{STAT_PREFIX}store/decision_held_seconds"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Sent (store=, reason=) when a run is about to be closed in the ledger, while the store is
# still open: components write what they keep until the end of a run here, and it is
# committed with the run's ledger row.
store_closing = object()
# Sent (exc=) when a write failed and the open batch was rolled back: whoever counted the
# batch's items forgets them.
store_failed = object()


@contextmanager
def stop_signals() -> Iterator[Callable[[], str | None]]:
    """While the block runs, SIGINT and SIGTERM are noted, not acted on; it is handed a
    function that names the first one noted (None until then), for the store's waits to
    ask. The store is claimed while the crawl's event loop is blocked, so Scrapy's own
    handlers, which ask that loop to stop, would not be heard until a NEWS_LOCK_WAIT ended.
    The handler only notes the signal: raising from it could land inside the database
    driver's code and leave a lock held."""
    noted: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return

    def note(signum: int, _frame: object) -> None:
        noted.append(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, note) for signum in STOP_SIGNALS}
    try:
        yield lambda: noted[0] if noted else None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_run(crawler: Crawler | None, message: str, reason: str, status: str = "failed") -> None:
    """Log why the run cannot go on, in one line, and stop it; it will exit non-zero."""
    interrupted = status == "interrupted"  # asked for, not an error
    logger.log(logging.WARNING if interrupted else logging.ERROR, "%s", message)
    if crawler is None:
        return
    if crawler.stats is not None:
        crawler.stats.set_value(f"{STAT_PREFIX}run_status", status)
        if not interrupted:
            # Scrapy counts ERROR lines only once the spider is open, and a store that
            # cannot be opened is found before that: the run's error count must not say 0.
            crawler.stats.inc_value(f"{STAT_PREFIX}stop_errors")
    if crawler.engine is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


def run_status(finish_reason: str | None, errors: int) -> str:
    """``finished`` only for a run that ended by itself and logged no error."""
    if finish_reason == "shutdown":
        return "interrupted"
    if finish_reason == "finished" and errors == 0:
        return "finished"
    return "failed"


def counts_from_stats(stats: dict[str, Any]) -> RunCounts:
    dropped_prefix = f"{STAT_PREFIX}dropped/"
    return RunCounts(
        new=int(stats.get(f"{STAT_PREFIX}items/new", 0)),
        exact_duplicate=int(stats.get(f"{STAT_PREFIX}items/exact", 0)),
        near_duplicate=int(stats.get(f"{STAT_PREFIX}items/near", 0)),
        already_stored=int(stats.get(f"{STAT_PREFIX}items/already_stored", 0)),
        revised=int(stats.get(f"{STAT_PREFIX}items/revised", 0)),
        dropped={
            key[len(dropped_prefix) :]: int(value)
            for key, value in sorted(stats.items())
            if key.startswith(dropped_prefix)
        },
        # Scrapy logs a request that used up its retries as an error; the spider counts it
        # as a dropped page (http_5xx, fetch_error), which is what it is for a crawl. The
        # errors that stopped the run count even when they came before Scrapy counted lines.
        errors=max(
            int(stats.get("log_count/ERROR", 0)) - int(stats.get("retry/max_reached", 0)),
            int(stats.get(f"{STAT_PREFIX}stop_errors", 0)),
            0,
        ),
    )


class CrawlStore:
    """The store of one crawl, shared by the stages and middlewares, which get it with
    :meth:`of` in their ``from_crawler``.

    Settings: ``NEWS_DATABASE_URL``, ``NEWS_LOCK_WAIT`` (seconds to wait for another run on
    the same store to end), ``NEWS_SQLITE_MMAP_MB`` (how much of a SQLite store reads map
    into memory). The first stage that opens it claims the store with a ``crawl_runs`` row;
    the row is completed when the spider closes.
    Stats: ``news/run_id``, ``news/run_status``, ``news/store/articles``, ``news/store/url``,
    and on a shared store ``news/store/decision_lock_seconds`` and
    ``news/store/decision_held_seconds`` (waiting for, and holding, the decision lock).
    """

    def __init__(
        self, *, database_url: str, lock_wait: float, mmap_mb: int, crawler: Crawler
    ) -> None:
        self.database_url = database_url
        self.lock_wait = lock_wait
        self.mmap_mb = mmap_mb
        self.crawler = crawler
        self.stats = crawler.stats
        self.store: Store | None = None
        self.run_id: int | None = None
        self.failed = False
        self.misconfigured: str | None = None
        self.derivations: tuple[Derivation, ...] = ()
        self._sealed = False
        # The fleet's id when the run is one process of a fleet (crawler.frontier).
        self.fleet_id: str | None = None
        # When this run took a shared store's decision lock (perf_counter), until it ends.
        self.decision_started: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlStore:
        settings = crawler.settings
        # Not NotConfigured: without this component no stage could store anything, and
        # Scrapy would only warn. The first stage to open the store stops the run instead.
        try:
            extension = cls(
                database_url=checked(settings, "NEWS_DATABASE_URL"),
                lock_wait=checked(settings, "NEWS_LOCK_WAIT"),
                mmap_mb=checked(settings, "NEWS_SQLITE_MMAP_MB"),
                crawler=crawler,
            )
        except ValueError as exc:
            extension = cls(database_url="", lock_wait=0.0, mmap_mb=0, crawler=crawler)
            extension.misconfigured = str(exc)
        # spider_closed comes after every pipeline's close_spider and carries the reason.
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        for dropped in (signals.item_dropped, signals.item_error):
            crawler.signals.connect(extension.end_decision, signal=dropped)
        return extension

    def lock_decisions(self, store: Store) -> None:
        """Before an article's first read for its decisions: on a shared store, take the
        decision lock (db.base.StoreBase.lock_decisions), until the article's commit or
        drop (decision_ended). The time waited and held goes into the stats."""
        if not store.shared:
            return
        waited = time.perf_counter()
        store.lock_decisions()
        self.decision_started = time.perf_counter()
        if self.stats is not None:
            # Scrapy's hint says int; the collector adds any number.
            self.stats.inc_value(WAIT_STAT, self.decision_started - waited)  # type: ignore[arg-type]

    def end_decision(self, **_kwargs: Any) -> None:
        """An item left the stages without being stored: on a shared store, end the
        transaction that may hold the decision lock (db.base.StoreBase.lock_decisions),
        so that other runs are not kept waiting for this run's next article."""
        store = self.store
        if store is None or not store.shared or self.failed:
            return
        try:
            store.commit()
        except StoreError as exc:
            self.fail(exc)
        self.decision_ended()

    def decision_ended(self) -> None:
        """The decision lock was released (a commit): its time held goes into the stats."""
        if self.decision_started is not None and self.stats is not None:
            held = time.perf_counter() - self.decision_started
            self.stats.inc_value(HELD_STAT, held)  # type: ignore[arg-type]
        self.decision_started = None

    @classmethod
    def of(cls, crawler: Crawler, component: str) -> CrawlStore:
        """The crawl's instance, for COMPONENT's ``from_crawler``; NotConfigured without one."""
        found = crawler.get_extension(cls)
        if found is None:
            message = f"{component} needs crawler.store.CrawlStore in EXTENSIONS"

            def stop(spider: Spider) -> None:
                # Scrapy only disables the component: stop the run as it opens instead,
                # once, whichever component says so first.
                if crawler.stats is None or not crawler.stats.get_value(f"{STAT_PREFIX}run_status"):
                    stop_run(crawler, f"Stopping the run: {message}", "misconfigured")

            crawler.signals.connect(stop, signal=signals.spider_opened, weak=False)
            raise NotConfigured(message)
        return found

    # -- derivations ---------------------------------------------------------------------------

    def derive(self, derivation: Derivation) -> None:
        """Have DERIVATION done on every article the cleaning stage cleans; its result
        reaches the item as ``item.derived.<stage>``. Stages call this in ``open_spider``,
        before the first document: the cleaning workers get them once, as they start."""
        if self._sealed:
            raise RuntimeError("derivations must be registered before the first document")
        self.derivations = (
            *[d for d in self.derivations if d.stage != derivation.stage],
            derivation,
        )

    def sealed_derivations(self) -> tuple[Derivation, ...]:
        """The derivations, fixed from now on (the cleaning stage is about to use them)."""
        self._sealed = True
        return self.derivations

    # -- the store and the run -----------------------------------------------------------------

    def open(self, stage: str, needed: Iterable[type] = ()) -> Store | None:
        """The open store, for STAGE, which needs the pipelines NEEDED; opened and claimed
        with a run by the first caller. None when the run cannot go on: the reason is
        logged and the run is stopping."""
        if self.misconfigured is not None and not self.failed:
            self.abort(f"Stopping the run: {self.misconfigured}", reason="misconfigured")
        if not self.check_pipelines(stage, needed):
            self.failed = True
        if self.store is None and not self.failed:
            self.store = self._claim()
        return self.store

    def _claim(self) -> Store | None:
        store = Store(self.database_url, mmap_bytes=self.mmap_mb * 1024 * 1024)
        if self.stats is not None:
            self.stats.set_value(f"{STAT_PREFIX}store/url", store.display_url)
        spider = self.crawler.spider
        # Imported here: the frontier stops runs through this module.
        from crawler.frontier import UNAVAILABLE_STAT, Frontier

        frontier = self.crawler.get_extension(Frontier)
        self.fleet_id = frontier.fleet_id if frontier is not None else None
        unavailable = self.stats.get_value(UNAVAILABLE_STAT) if self.stats is not None else None
        if unavailable is not None:
            self.abort(f"Stopping the run: {unavailable}", reason="frontier_lost")
            return None
        if self.fleet_id is not None and not store.shared:
            self.abort(
                f"Stopping the run: NEWS_FRONTIER_URL makes this process one of a fleet, and "
                f"a fleet needs a store that many processes can write: {store.display_url} "
                "is a SQLite file, which has one writer. Use a PostgreSQL NEWS_DATABASE_URL.",
                reason="misconfigured",
            )
            return None
        try:
            with stop_signals() as interrupted:
                store.wait_for_live_run(self.lock_wait, interrupted)
                store.open()
                # Claim the store before anyone reads from it: on SQLite, runs never
                # overlap; a shared store records the run and lets it start at once.
                self.run_id = store.start_run(
                    spider.name if spider is not None else "unknown",
                    getattr(spider, "run_arguments", {}),
                    wait=self.lock_wait,
                    interrupted=interrupted,
                    fleet_id=self.fleet_id,
                )
                stopped = interrupted()
        except WaitInterrupted as exc:
            store.close()
            self.abort(f"{exc} while waiting for the store: nothing was read", "shutdown")
            return None
        except StoreBusy as exc:
            store.close()
            self.abort(f"another run holds the store: {exc}", reason="store_busy")
            return None
        except StoreError as exc:
            store.close()
            self.abort(str(exc))
            return None
        if stopped is not None:
            # Noted during the migration or the claim itself: the run stops at once, and
            # is closed in the ledger as interrupted.
            self.abort(f"{stopped} while opening the store: nothing was read", "shutdown")
        if self.stats is not None:
            self.stats.set_value(f"{STAT_PREFIX}run_id", self.run_id)
        if self.fleet_id is not None:
            logger.info(
                "Run %d started, in fleet %s; store %s",
                self.run_id,
                self.fleet_id,
                store.display_url,
            )
        else:
            logger.info("Run %d started; store %s", self.run_id, store.display_url)
        return store

    def open_stage(
        self,
        stage: str,
        needed: Iterable[type],
        attach: Callable[[Store], Derivation],
    ) -> Store | None:
        """``open`` for a stage that works on the cleaned text: ATTACH checks the store
        against the stage's settings (NotConfigured or StoreError stop the run with their
        message) and returns the derivation the stage wants made of every article."""
        store = self.open(stage, needed)
        if store is None:
            return None
        try:
            # A stage's setup writes store facts and may build its index: on a shared
            # store, one run at a time.
            with store.decisions_held():
                derivation = attach(store)
        except (NotConfigured, StoreError) as exc:
            self.abort(str(exc))
            return None
        self.derive(derivation)
        return store

    def check_pipelines(self, stage: str, needed: Iterable[type] = ()) -> bool:
        """True when every pipeline in ITEM_PIPELINES runs, and those STAGE needs are there.
        Otherwise the run stops: Scrapy disables a pipeline whose from_crawler raises
        NotConfigured (a setting out of range) with only a warning, and a run without dedup
        would store every article as new, unattended, into a store that keeps them."""
        crawler = self.crawler
        entries = build_component_list(crawler.settings.getwithbase("ITEM_PIPELINES"))
        listed = [load_object(entry) for entry in entries]
        disabled = [p for p in listed if crawler.get_item_pipeline(p) is None]
        absent = [
            p
            for p in needed
            if crawler.get_item_pipeline(p) is None and not any(issubclass(d, p) for d in disabled)
        ]
        missing = [f"{p.__name__} is disabled (the warning above says why)" for p in disabled]
        missing += [f"{stage} needs {p.__name__}, which is not in ITEM_PIPELINES" for p in absent]
        if not missing:
            return True
        if not self.failed:  # said once, by the first stage
            self.abort(f"Stopping the run: {'; '.join(missing)}", reason="misconfigured")
        return False

    def abort(self, message: str, reason: str = "store_error") -> None:
        """Log why the run cannot go on, in one line, and stop it; it will exit non-zero."""
        self.failed = True
        status = {"store_busy": "busy", "shutdown": "interrupted"}.get(reason, "failed")
        stop_run(self.crawler, message, reason, status)

    def fail(self, exc: Exception) -> None:
        """A write failed: the open batch is lost to this run (the next run stores it)."""
        self.crawler.signals.send_catch_log(signal=store_failed, exc=exc)
        if self.store is not None:
            self.store.rollback()
        self.abort(f"store write failed, stopping the run: {exc}")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        store, run_id = self.store, self.run_id
        if store is None or run_id is None:
            return
        stats = self.stats.get_stats() if self.stats is not None else {}
        if self.failed and reason == "finished":
            reason = "store_error"
        self.crawler.signals.send_catch_log(signal=store_closing, store=store, reason=reason)
        counts = counts_from_stats(stats)
        status = run_status(reason, counts.errors)
        try:
            store.finish_run(run_id, status=status, finish_reason=reason, counts=counts)
            total = store.count_articles()
        except StoreError as exc:
            logger.error("Could not complete run %d in the ledger: %s", run_id, exc)
            status, total = "failed", -1
        finally:
            store.close()
            self.store = None
        if self.stats is not None:
            self.stats.set_value(f"{STAT_PREFIX}run_status", status)
            self.stats.set_value(f"{STAT_PREFIX}store/articles", total)
        logger.info("Run %d %s (%s)", run_id, status, reason)

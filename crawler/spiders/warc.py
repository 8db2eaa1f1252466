"""The WARC source: HTML responses of WARC and ARC files (CC-NEWS, web archives), one
article each, streamed record by record (crawler/warcs.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from scrapy import Spider, signals

from crawler.frontier import Frontier, FrontierLost
from crawler.items import ArticleItem
from crawler.rules import checked
from crawler.store import CrawlStore
from crawler.tree import Skip, walk
from crawler.urls import canonical_url
from crawler.warcframes import Tick
from crawler.warcs import HEAD_BYTES, Broken, Document, Skipped, WarcReader, head_digest
from db.records import utcnow
from db.store import Store

logger = logging.getLogger(__name__)

SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
# Documents handed to the stages and not yet through them: enough to keep every cleaning
# worker busy, few enough that a stop is prompt and memory stays flat.
IN_FLIGHT = 64
# Seconds between saves of a file's progress while its records hold no article.
PROGRESS_EVERY = 5.0
# Records whose framing or headers lie: logged as errors, so the run exits 1.
BAD_RECORDS = frozenset({"broken_chunked", "bad_content_length", "invalid_record"})


def warc_files(root: Path, max_depth: int, skip: Skip) -> Iterator[Path]:
    """ROOT itself, or the WARC and ARC files under it, in sorted order, to any depth up
    to MAX_DEPTH (crawler.tree.walk)."""
    if root.is_file():
        yield root
        return
    yield from walk(root, lambda name: name.endswith(SUFFIXES), max_depth, skip)


class WarcSpider(Spider):
    """``scrapy crawl warc -a path=FILE_OR_FOLDER``: every HTML response record of the WARC
    (``.warc``, ``.warc.gz``) and ARC (``.arc``, ``.arc.gz``) files there becomes an article
    under its canonical ``WARC-Target-URI``, fetched at its ``WARC-Date``, its source the
    file's name. Documents go straight to the stages, without requests.

    Other records are counted by kind (``news/warc/skipped/<reason>``: request, metadata,
    revisit, warcinfo, non_html, too_large, broken_chunked, bad_content_length, …). A part
    of a file that cannot be read (``not_warc``, ``truncated``, ``unreadable``) is logged as
    an error with the file and offset, the good records around it are still read, and the
    run exits 1. The store keeps how far each file was read (``warc_files``), committed with
    the articles: a rerun skips a file read to its end, and resumes one it was stopped in.
    With ``NEWS_FRONTIER_URL`` (docs/fleet.md), the processes of a fleet share the files
    out: each file is read by the first process to claim it in Redis, the others skip it
    (``news/warc/files_elsewhere``).
    Settings: ``NEWS_FILES_MAX_BYTES`` (an HTTP body over it is skipped unread),
    ``NEWS_FILES_MAX_DEPTH`` (folders deeper are skipped, ``too_deep``).
    """

    name = "warc"
    arguments = ("path",)
    custom_settings = {  # noqa: RUF012 (Scrapy declares it as a plain attribute)
        "ROBOTSTXT_OBEY": False,
        "AUTOTHROTTLE_ENABLED": False,
    }

    def __init__(self, path: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = path
        self.run_arguments = {"path": path}
        self.max_bytes = 10 * 1024 * 1024
        self.max_depth = 100
        self.store: Store | None = None
        self.in_flight: Counter[str] = Counter()
        # Files read to their end whose last documents are still in the stages.
        self.ending: dict[str, tuple[int, int]] = {}
        self.room = asyncio.Event()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WarcSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.max_bytes = checked(crawler.settings, "NEWS_FILES_MAX_BYTES")
        spider.max_depth = checked(crawler.settings, "NEWS_FILES_MAX_DEPTH")
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(spider.handled, signal=signal)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if not self.path:
            logger.error("warc: no file or folder given; use -a path=PATH")
            return
        root = Path(self.path).expanduser().resolve()
        if not root.exists():
            logger.error("warc: %s does not exist", self.path)
            return
        self.store = CrawlStore.of(self.crawler, "warc").store
        # One process of a fleet: each file goes to the first process that claims it.
        fleet = self.crawler.get_extension(Frontier)
        for path in warc_files(root, self.max_depth, self.skipped_folder):
            if fleet is not None:
                try:
                    mine = fleet.claim(str(path))
                except FrontierLost as exc:
                    fleet.stop(exc)
                    return
                if not mine:
                    self.crawler.stats.inc_value("news/warc/files_elsewhere")
                    continue
            async for item in self.read(path):
                yield item

    async def read(self, path: Path) -> AsyncIterator[ArticleItem]:
        key, size = str(path), path.stat().st_size
        known = self.store.warc_progress(key) if self.store is not None else None
        head = head_digest(path, size)
        if known is not None and min(known.size, HEAD_BYTES) != min(size, HEAD_BYTES):
            before = head_digest(path, known.size)  # over the bytes the file had then
        else:
            before = head
        if known is not None and known.head is not None and known.head != before:
            # Another file under the same name: read from its start.
            logger.info("Reading %s anew: its content is not the file read before", key)
            self.crawler.stats.inc_value("news/warc/files_replaced")
            known = None
        if known is not None and known.finished_at is not None and known.size == size:
            logger.info("Skipped %s: read to its end by an earlier run", key)
            self.crawler.stats.inc_value("news/warc/files_done_before")
            return
        # A file that grew (appended to) goes on where it stopped; one that shrank is new.
        start = known.offset if known is not None and known.size <= size else 0
        if start:
            logger.info("Resuming %s at byte %d", key, start)
        if self.store is not None:
            # Unfinished from here on: the stages' batches only ever move it forward.
            self.store.save_warc_progress(
                key,
                size=size,
                offset=start,
                at=utcnow(),
                finished=False,
                head=head,
            )
        end = start
        saved = time.monotonic()
        for record in WarcReader(path, start, self.max_bytes):
            if self.stopping():
                return
            if isinstance(record, Tick):
                await asyncio.sleep(0)  # a long scan: let the engine hear a stop
                continue
            if isinstance(record, Document):
                item = self.article(record, path, size)
                if item is not None:
                    await self.wait_for_room()
                    if self.stopping():
                        return
                    self.in_flight[key] += 1
                    yield item
                end = record.end
                continue
            if isinstance(record, Skipped):
                self.skipped(record, key)
                end = record.end
            else:
                self.broken(record, key)
                end = record.resume if record.resume is not None else end
            if not self.in_flight[key] and time.monotonic() - saved > PROGRESS_EVERY:
                # Records that hold no article move the file's progress too.
                saved = time.monotonic()
                self.save_progress(key, size, end)
        self.crawler.stats.inc_value("news/warc/files")
        self.ending[key] = (size, end)
        self.finish_if_done(key)

    def stopping(self) -> bool:
        """The crawl is being stopped (a signal, a close condition): read no further."""
        return not self.crawler.crawling

    def save_progress(self, key: str, size: int, end: int) -> None:
        if self.store is not None:
            self.store.save_warc_progress(key, size=size, offset=end, at=utcnow(), finished=False)

    def article(self, record: Document, path: Path, size: int) -> ArticleItem | None:
        try:
            url = canonical_url(record.url)
        except ValueError as exc:
            self.skipped(Skipped("invalid_url", record.offset, record.end, str(exc)), str(path))
            return None
        return ArticleItem(
            url=url,
            kind="html",
            raw=record.html,
            fetched_at=record.fetched_at,
            source=path.name,
            origin=(str(path), size, record.end),
        )

    def skipped(self, record: Skipped, key: str) -> None:
        self.crawler.stats.inc_value(f"news/warc/skipped/{record.reason}")
        if record.reason in BAD_RECORDS:
            # A record that lies about itself is bad input: the run fails, and says where.
            level = logging.ERROR
        elif record.reason in ("too_large", "invalid_url"):
            level = logging.WARNING
        elif record.reason in ("request", "metadata", "warcinfo"):
            level = logging.DEBUG
        else:
            level = logging.INFO
        logger.log(
            level,
            "Skipped record at %s:%d: %s (%s)",
            key,
            record.offset,
            record.reason,
            record.detail,
        )

    def skipped_folder(self, path: Path, reason: str, detail: str) -> None:
        logger.warning("Skipped %s: %s (%s)", path, reason, detail)
        self.crawler.stats.inc_value(f"news/warc/skipped/{reason}")

    def broken(self, record: Broken, key: str) -> None:
        self.crawler.stats.inc_value(f"news/warc/broken/{record.reason}")
        logger.error(
            "Broken WARC file %s at byte %d: %s (%s)",
            key,
            record.offset,
            record.reason,
            record.detail,
        )

    async def wait_for_room(self) -> None:
        while sum(self.in_flight.values()) >= IN_FLIGHT and not self.stopping():
            self.room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.room.wait(), timeout=1.0)

    def handled(self, item: Any, **_kwargs: Any) -> None:
        """An item left the stages. Storage moved the file's offset past a stored one's
        record, in the article's transaction; here it moves past a dropped one's."""
        origin = getattr(item, "origin", None)
        if origin is None:
            return
        key, size, end = origin
        self.in_flight[key] -= 1
        self.room.set()
        if getattr(item, "id", None) is None:
            self.save_progress(key, size, end)
        self.finish_if_done(key)

    def finish_if_done(self, key: str) -> None:
        if key not in self.ending or self.in_flight[key] > 0:
            return
        size, end = self.ending.pop(key)
        if self.store is not None:
            self.store.save_warc_progress(key, size=size, offset=end, at=utcnow(), finished=True)

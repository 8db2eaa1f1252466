"""Cleaning stage: main text and metadata out of HTML (trafilatura) or plain text."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import py3langid
import trafilatura
from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from pipelines.boilerplate import TrailerCutter
from pipelines.textnorm import normalize_text, strip_controls
from pipelines.workerpool import WorkerPool

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# A first line longer than this, or ending in a full stop, is a paragraph, not a headline.
TITLE_MAX_CHARS = 250
# Language identification is as good on the first few paragraphs as on the whole text.
LANGID_SAMPLE_CHARS = 2000


@dataclass(frozen=True)
class Cleaned:
    title: str | None
    text: str
    author: str | None = None
    site_name: str | None = None
    published_at: datetime | None = None
    language: str | None = None


class Derivation(Hashable, Protocol):
    """Work a later stage does on the cleaned title and text alone (signatures, hashes),
    registered with :meth:`CleaningPipeline.derive` and done where the text was cleaned: in
    a worker when there are several, so that the crawl process, which every article passes
    through in turn, keeps only the work that needs the store. A frozen dataclass of plain
    parameters: it is sent to the workers with each document."""

    @property
    def stage(self) -> str:
        """The stage whose result it is and whose CPU time (``news/cpu/<stage>``) it takes."""
        ...

    def make(self) -> Callable[[str | None, str], Any]:
        """The function of (title, text), made once per process (it may keep caches)."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What cleaning one document gave: the article, or why there is none (``failure``),
    the later stages' derivations of it, and the CPU time each took, wherever it ran."""

    cleaned: Cleaned | None
    failure: str | None
    cpu_seconds: float
    derived: dict[str, Any] = field(default_factory=dict)
    derived_cpu_seconds: dict[str, float] = field(default_factory=dict)


def split_title(lines: list[str]) -> tuple[str | None, list[str]]:
    """Take the headline off the top of plain text, and the copies of it that follow."""
    if not lines:
        return None, lines
    first = lines[0]
    if len(first) <= TITLE_MAX_CHARS and not first.rstrip().endswith("."):
        title, body = first, lines[1:]
    else:
        # No headline: name the article by its first sentence and keep the paragraph.
        sentence = first.split(". ", 1)[0]
        title = sentence if len(sentence) <= TITLE_MAX_CHARS else sentence[:TITLE_MAX_CHARS]
        return title.rstrip(".") or None, lines
    return title, drop_repeated_title(title, body)


def drop_repeated_title(title: str | None, lines: list[str]) -> list[str]:
    """Templates often print the headline twice (page title and h1): keep it out of the body."""
    if not title:
        return lines
    key = normalize_text(title)
    head = [line for line in lines[:3] if normalize_text(line) != key]
    return head + lines[3:]


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        logger.debug("unparsable date %r", value)
        return None


class Cleaner:
    """The cleaning itself, without Scrapy: what a worker process holds one of."""

    def __init__(self, extra_markers: list[str]) -> None:
        self.cutter = TrailerCutter(extra_markers)
        self._derivers: dict[Derivation, Callable[[str | None, str], Any]] = {}

    def clean(
        self, kind: str, raw: str, url: str, derivations: tuple[Derivation, ...] = ()
    ) -> Outcome:
        started = time.thread_time()
        cleaned: Cleaned | None = None
        failure = None
        try:
            cleaned = self.clean_html(raw, url) if kind == "html" else self.clean_text(raw)
        except Exception as exc:  # a parser failing on one page must not stop the crawl
            failure = f"trafilatura failed: {exc!r}"
        if cleaned is not None and cleaned.text:
            cleaned = replace(cleaned, language=detect_language(cleaned.text))
        cpu_seconds = time.thread_time() - started
        derived, derived_cpu = {}, {}
        if cleaned is not None and cleaned.text:
            for derivation in derivations:
                started = time.thread_time()
                derive = self._derivers.get(derivation)
                if derive is None:
                    derive = self._derivers[derivation] = derivation.make()
                derived[derivation.stage] = derive(cleaned.title, cleaned.text)
                derived_cpu[derivation.stage] = time.thread_time() - started
        return Outcome(cleaned, failure, cpu_seconds, derived, derived_cpu)

    def clean_text(self, raw: str) -> Cleaned | None:
        lines = [line.strip() for line in strip_controls(raw).splitlines()]
        lines = [line for line in lines if line]
        title, body = split_title(lines)
        text = "\n".join(self.cutter.cut_lines(body))
        return Cleaned(title=title, text=text)

    def clean_html(self, raw: str, url: str) -> Cleaned | None:
        document = trafilatura.bare_extraction(
            raw,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            deduplicate=False,
        )
        if document is None or isinstance(document, dict):
            return None
        text = strip_controls(document.text or "")
        # trafilatura usually leaves teasers out; the same cut as for plain text catches
        # the blocks it keeps.
        lines = drop_repeated_title(document.title, [ln for ln in text.splitlines() if ln])
        return Cleaned(
            title=document.title,
            text=self.cutter.cut("\n".join(lines)),
            author=document.author,
            site_name=document.sitename,
            published_at=parse_date(document.date),
        )


class CleaningPipeline:
    """Turns raw documents into article text with metadata; drops items with no usable text.

    Settings: ``NEWS_MIN_TEXT_CHARS`` (shorter cleaned text is dropped),
    ``NEWS_TRAILER_MARKERS`` (extra headings that start a trailer to cut), ``NEWS_WORKERS``
    (processes that extract in parallel; 1 cleans in the crawl process). With workers, the
    items still leave this stage in the order they came.
    Stats: ``news/dropped/<reason>``, ``news/cpu/cleaning``.
    """

    def __init__(
        self,
        *,
        min_text_chars: int,
        extra_markers: list[str],
        workers: int = 1,
        stats: StatsCollector | None = None,
    ) -> None:
        self.min_text_chars = min_text_chars
        self.extra_markers = extra_markers
        self.cleaner = Cleaner(extra_markers)
        self.workers = workers
        self.stats = stats
        self.pool: WorkerPool | None = None
        self.derivations: tuple[Derivation, ...] = ()
        # Done when the item before the newest one has left this stage: items leave in the
        # order they came, so dedup sees them as they were read, with or without a pool.
        self._previous: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningPipeline:
        settings = crawler.settings
        min_chars = settings.getint("NEWS_MIN_TEXT_CHARS")
        if min_chars < 1:
            raise NotConfigured(f"NEWS_MIN_TEXT_CHARS must be at least 1, got {min_chars}")
        workers = settings.getint("NEWS_WORKERS") or os.cpu_count() or 1
        if workers < 1:
            raise NotConfigured(f"NEWS_WORKERS must be 0 (every core) or more, got {workers}")
        return cls(
            min_text_chars=min_chars,
            extra_markers=settings.getlist("NEWS_TRAILER_MARKERS"),
            workers=workers,
            stats=crawler.stats,
        )

    def start_pool(self) -> WorkerPool:
        pool = WorkerPool(
            self.workers,
            _start_worker,
            _clean,
            (self.extra_markers, os.getpid()),
            on_second_death=lambda _args: Outcome(None, "a cleaning worker died on it twice", 0.0),
        )
        logger.info("Started %d cleaning workers", self.workers)
        return pool

    def derive(self, derivation: Derivation) -> None:
        """Have DERIVATION done on every article this stage cleans from now on; its result
        reaches the item as ``item.derived[derivation.stage]``. Later stages call this from
        their ``open_spider``, before any item is cleaned."""
        self.derivations = (*self.derivations, derivation)

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        previous = self._previous
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._previous = mine
        try:
            outcome = await self.clean(item)
            if previous is not None:
                await previous
            return self.finish(item, outcome)
        finally:
            mine.set_result(None)

    async def clean(self, item: ArticleItem) -> Outcome:
        raw, item.raw = item.raw, ""  # the raw document is not needed past this stage
        if self.workers == 1:
            return self.cleaner.clean(item.kind, raw, item.url, self.derivations)
        if self.pool is None:
            # Started with the first document, not with the crawl: a run with nothing new to
            # read (a cron job over an unchanged folder or site) starts no worker at all.
            self.pool = self.start_pool()
        # A worker that dies takes only the document it held; the pool tries that once more
        # in a new worker, so only a document that kills a worker twice is lost.
        outcome: Outcome = await self.pool.submit(item.kind, raw, item.url, self.derivations)
        return outcome

    def finish(self, item: ArticleItem, outcome: Outcome) -> ArticleItem:
        if self.stats is not None:
            # Seconds, measured where the cleaning ran (the stats take floats as they are).
            self.stats.inc_value("news/cpu/cleaning", outcome.cpu_seconds)  # type: ignore[arg-type]
            for stage, seconds in outcome.derived_cpu_seconds.items():
                self.stats.inc_value(f"news/cpu/{stage}", seconds)  # type: ignore[arg-type]
                # The part of the stage's CPU spent where the text was cleaned.
                self.stats.inc_value(f"news/derived_cpu/{stage}", seconds)  # type: ignore[arg-type]
        cleaned = outcome.cleaned
        if outcome.failure is not None:
            self.drop(item, "extraction_failed", outcome.failure)
        if cleaned is None or not cleaned.text:
            self.drop(item, "no_text", "no article text could be extracted")
        assert cleaned is not None
        if len(cleaned.text) < self.min_text_chars:
            self.drop(
                item,
                "too_short",
                f"cleaned text has {len(cleaned.text)} characters, "
                f"fewer than NEWS_MIN_TEXT_CHARS={self.min_text_chars}",
            )
        item.title = cleaned.title
        item.text = cleaned.text
        item.author = item.author or cleaned.author
        item.site_name = item.site_name or cleaned.site_name
        item.published_at = item.published_at or cleaned.published_at
        item.language = item.language or cleaned.language
        item.derived = outcome.derived
        return item

    def drop(self, item: ArticleItem, reason: str, detail: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"news/dropped/{reason}")
        raise DropItem(f"{reason}: {item.url}: {detail}")


# The Cleaner of a worker process, made once by _start_worker.
_worker_cleaner: Cleaner | None = None


def _start_worker(extra_markers: list[str], parent: int) -> None:
    global _worker_cleaner
    # Ctrl-C reaches the whole process group; the crawl process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The crawl's pid comes from the crawl: a crawl killed while this worker was still
    # importing is already gone here, and os.getppid() would name the new parent.
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _worker_cleaner = Cleaner(extra_markers)


def _exit_with_parent(parent: int) -> None:
    """A crawl killed outright (SIGKILL, OOM) cannot stop its pool. An idle worker sees its
    pipe close; one still importing or cleaning a document leaves here, once its parent is
    gone."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _clean(kind: str, raw: str, url: str, derivations: tuple[Derivation, ...]) -> Outcome:
    assert _worker_cleaner is not None
    return _worker_cleaner.clean(kind, raw, url, derivations)


def detect_language(text: str) -> str | None:
    if not text.strip():
        return None
    language, _score = py3langid.classify(text[:LANGID_SAMPLE_CHARS])
    return str(language)

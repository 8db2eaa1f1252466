"""The cleaning itself, without Scrapy: main text and metadata out of HTML (trafilatura) or
plain text. The cleaning stage runs it in the crawl process or in its worker processes, which
import this module and not Scrapy's."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import trafilatura

from crawler.items import Derivation, Derived
from pipelines.boilerplate import TrailerCutter
from pipelines.language import LanguageDetector
from pipelines.textnorm import normalize_text, stored_form

logger = logging.getLogger(__name__)

# A first line longer than this, or ending in a full stop, is a paragraph, not a headline.
TITLE_MAX_CHARS = 250


@dataclass(frozen=True)
class Cleaned:
    title: str | None
    text: str
    author: str | None = None
    site_name: str | None = None
    published_at: datetime | None = None
    language: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What cleaning one document gave: the article, or why there is none (``failure``),
    the later stages' derivations of it, and the CPU time each took, wherever it ran."""

    cleaned: Cleaned | None
    failure: str | None
    cpu_seconds: float
    derived: Derived = field(default_factory=Derived)
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


class ExtractorLog(logging.Handler):
    """Takes what trafilatura logs about the page being cleaned out of the crawl's log (to
    DEBUG), while the block runs, and hands the block the errors: a page's own extraction
    problem is that page's drop reason (``extraction_failed``), not an error of the run,
    which an ERROR line in the crawl's log would make it."""

    LOGGER = "trafilatura"

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.messages.append(record.getMessage())
        logger.debug("trafilatura: %s", record.getMessage())

    def __enter__(self) -> list[str]:
        self.messages = []
        extractor = logging.getLogger(self.LOGGER)
        extractor.addHandler(self)
        self._propagate, extractor.propagate = extractor.propagate, False
        return self.messages

    def __exit__(self, *_exc: object) -> None:
        extractor = logging.getLogger(self.LOGGER)
        extractor.removeHandler(self)
        extractor.propagate = self._propagate


class Cleaner:
    """The cleaning itself, without Scrapy: what a worker process holds one of."""

    def __init__(self, extra_markers: list[str], cache_dir: Path | None = None) -> None:
        self.cutter = TrailerCutter(extra_markers)
        self.languages = LanguageDetector(cache_dir)
        self._derivers: dict[Derivation, Callable[[str | None, str, str | None], Any]] = {}
        self.extractor_log = ExtractorLog()

    def clean(
        self, kind: str, raw: str, url: str, derivations: tuple[Derivation, ...] = ()
    ) -> Outcome:
        started = time.thread_time()
        cleaned: Cleaned | None = None
        failure = None
        try:
            with self.extractor_log as said:
                cleaned = self.clean_html(raw, url) if kind == "html" else self.clean_text(raw)
        except Exception as exc:  # a parser failing on one page must not stop the crawl
            failure = f"trafilatura failed: {exc!r}"
        else:
            if (cleaned is None or not cleaned.text) and said:
                failure = f"trafilatura: {said[0]}"
        if cleaned is not None and cleaned.text:
            cleaned = replace(cleaned, language=self.languages.detect(cleaned.text))
        cpu_seconds = time.thread_time() - started
        derived: dict[str, Any] = {}
        derived_cpu: dict[str, float] = {}
        if cleaned is not None and cleaned.text:
            for derivation in derivations:
                started = time.thread_time()
                derive = self._derivers.get(derivation)
                if derive is None:
                    derive = self._derivers[derivation] = derivation.make()
                derived[derivation.stage] = derive(cleaned.title, cleaned.text, cleaned.language)
                derived_cpu[derivation.stage] = time.thread_time() - started
        return Outcome(cleaned, failure, cpu_seconds, Derived(**derived), derived_cpu)

    def clean_text(self, raw: str) -> Cleaned | None:
        lines = [line.strip() for line in stored_form(raw).splitlines()]
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
        text = stored_form(document.text or "")
        # trafilatura usually leaves teasers out; the same cut as for plain text catches
        # the blocks it keeps.
        lines = drop_repeated_title(document.title, [ln for ln in text.splitlines() if ln])
        return Cleaned(
            title=stored_form(document.title) if document.title else None,
            text=self.cutter.cut("\n".join(lines)),
            author=document.author,
            site_name=document.sitename,
            published_at=parse_date(document.date),
        )


# A worker process's Cleaner and the derivations it makes of every text, set by start_worker.
_worker: tuple[Cleaner, tuple[Derivation, ...]] | None = None


def start_worker(
    extra_markers: list[str], derivations: tuple[Derivation, ...], cache_dir: Path | None = None
) -> None:
    """What a cleaning worker does once, before its first document."""
    global _worker
    _worker = (Cleaner(extra_markers, cache_dir), derivations)


def clean_in_worker(kind: str, raw: str, url: str) -> Outcome:
    assert _worker is not None
    cleaner, derivations = _worker
    return cleaner.clean(kind, raw, url, derivations)

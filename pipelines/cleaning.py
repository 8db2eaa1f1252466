"""Cleaning stage: main text and metadata out of HTML (trafilatura) or plain text."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import py3langid
import trafilatura
from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from pipelines.boilerplate import TrailerCutter
from pipelines.cputime import timed
from pipelines.textnorm import normalize_text, strip_controls

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


class CleaningPipeline:
    """Turns raw documents into article text with metadata; drops items with no usable text.

    Settings: ``NEWS_MIN_TEXT_CHARS`` (shorter cleaned text is dropped),
    ``NEWS_TRAILER_MARKERS`` (extra headings that start a trailer to cut).
    Stats: ``news/dropped/<reason>``.
    """

    def __init__(
        self,
        *,
        min_text_chars: int,
        extra_markers: list[str],
        stats: StatsCollector | None = None,
    ) -> None:
        self.min_text_chars = min_text_chars
        self.cutter = TrailerCutter(extra_markers)
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningPipeline:
        settings = crawler.settings
        min_chars = settings.getint("NEWS_MIN_TEXT_CHARS")
        if min_chars < 1:
            raise NotConfigured(f"NEWS_MIN_TEXT_CHARS must be at least 1, got {min_chars}")
        return cls(
            min_text_chars=min_chars,
            extra_markers=settings.getlist("NEWS_TRAILER_MARKERS"),
            stats=crawler.stats,
        )

    @timed("cleaning")
    def process_item(self, item: ArticleItem) -> ArticleItem:
        if item.kind == "html":
            try:
                cleaned = self.clean_html(item.raw, item.url)
            except Exception as exc:  # a parser failing on one page must not stop the crawl
                self.drop(item, "extraction_failed", f"trafilatura failed: {exc!r}")
        else:
            cleaned = self.clean_text(item.raw)
        item.raw = ""  # the raw document is not needed past this stage
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
        item.language = item.language or detect_language(cleaned.text)
        return item

    def drop(self, item: ArticleItem, reason: str, detail: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"news/dropped/{reason}")
        raise DropItem(f"{reason}: {item.url}: {detail}")

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


def detect_language(text: str) -> str | None:
    if not text.strip():
        return None
    language, _score = py3langid.classify(text[:LANGID_SAMPLE_CHARS])
    return str(language)

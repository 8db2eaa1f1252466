"""RSS and Atom feeds, read with feedparser: each entry's article URL, date and title."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from crawler.revisits import Listed


def _date(parsed: struct_time | None) -> datetime | None:
    """feedparser's dates are UTC struct_times; the store's are naive UTC."""
    if parsed is None:
        return None
    try:
        return datetime(*parsed[:6])
    except (TypeError, ValueError):
        return None


def _is_web_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value.strip()).scheme in ("http", "https")


def entry_url(entry: Any, rss: bool) -> str | None:
    """The article an entry stands for: its alternate link (feedparser resolves it against
    xml:base, Content-Location and the feed URL, and takes an RSS permalink guid for it
    when there is no <link>); failing that, an Atom <id> that is a web URL; an RSS
    <guid isPermaLink="false"> is a name, never a link. Enclosures are not articles."""
    link = entry.get("link")
    if _is_web_url(link):
        return str(link).strip()
    ident = entry.get("id")
    if not _is_web_url(ident):
        return None
    if rss and not entry.get("guidislink", False):
        return None
    return str(ident).strip()


class FeedEntries:
    """The entries of one feed, as :class:`Listed` article claims, or ``problem`` when
    the body is not a feed. BODY is bytes as served; HEADERS the response's."""

    def __init__(self, body: bytes, url: str, headers: dict[str, str]) -> None:
        location = urljoin(url, headers.get("content-location", ""))
        response_headers = {"content-location": location}
        # feedparser takes the charset from Content-Type; a feed served as text/html
        # (common) is still parsed as a feed.
        if "content-type" in headers:
            response_headers["content-type"] = headers["content-type"]
        if "content-language" in headers:
            response_headers["content-language"] = headers["content-language"]
        self.parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=response_headers,
            resolve_relative_uris=True,
            sanitize_html=False,
        )
        self.version = str(self.parsed.get("version") or "")
        self.rss = self.version.startswith("rss")
        self.without_link = 0

    @property
    def problem(self) -> str | None:
        if self.parsed.entries or self.version:
            return None
        error = self.parsed.get("bozo_exception")
        return f"no RSS item or Atom entry ({error})" if error else "no RSS item or Atom entry"

    def __iter__(self) -> Iterator[Listed]:
        for entry in self.parsed.entries:
            url = entry_url(entry, self.rss)
            if url is None:
                self.without_link += 1
                continue
            date = _date(entry.get("published_parsed") or entry.get("updated_parsed"))
            title = entry.get("title")
            yield Listed(url, date, title.strip() if isinstance(title, str) else None, True)

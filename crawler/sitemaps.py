"""What a listing is, by its content, and the entries of sitemaps: XML sitemaps and
indexes (with the news extension's date and title), plain-text sitemaps, and the sitemaps
a robots.txt names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from typing import Literal

from lxml import etree

from crawler.listings import parse_listing_date
from crawler.revisits import Listed

ListingKind = Literal["urlset", "sitemapindex", "feed", "text", "html", "unknown"]

FEED_ROOTS = frozenset({"rss", "feed", "RDF", "channel"})
_BOM = b"\xef\xbb\xbf"


def local_name(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _iterparse(body: bytes, events: tuple[str, ...]) -> Iterator[tuple[str, etree._Element]]:
    # The settings of Scrapy's own sitemap parser: no entities resolved, no network.
    return etree.iterparse(  # type: ignore[no-any-return]
        BytesIO(body),
        events=events,
        recover=True,
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        huge_tree=False,
    )


def listing_kind(body: bytes) -> ListingKind:
    """What BODY is: a sitemap, a sitemap index, a feed, a plain-text sitemap or an HTML
    page, whatever its Content-Type said (servers often send feeds as text/html and
    sitemaps as text/plain)."""
    head = body[:2048].removeprefix(_BOM).lstrip()
    if not head:
        return "unknown"
    if head[:1] != b"<":
        return "text" if head.lower().startswith((b"http://", b"https://")) else "unknown"
    try:
        for _event, element in _iterparse(body, ("start",)):
            root = local_name(element.tag)
            if root in ("urlset", "sitemapindex"):
                return root  # type: ignore[return-value]
            if root in FEED_ROOTS:
                return "feed"
            if root.lower() == "html":
                return "html"
            return "unknown"
    except etree.LxmlError:
        return "unknown"
    return "unknown"


class SitemapEntries:
    """The entries of an XML sitemap or sitemap index, streamed: each element is read,
    turned into a :class:`Listed` and cleared, so a large sitemap costs its body and
    little more. Entries with a ``news:news`` block are article claims, with its
    publication date and title. A parse error stops the reading: ``error`` says where."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.read = 0
        self.error: str | None = None

    def __iter__(self) -> Iterator[Listed]:
        events = _iterparse(self.body, ("end",))
        try:
            for _event, element in events:
                name = local_name(element.tag)
                if name not in ("url", "sitemap"):
                    continue
                listed = self._entry(element)
                element.clear()
                # Drop the entries already read, so the tree never grows.
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
                if listed is not None:
                    self.read += 1
                    yield listed
        except etree.LxmlError as exc:
            self.error = f"unreadable after {self.read} entries: {exc}"

    @staticmethod
    def _entry(element: etree._Element) -> Listed | None:
        loc = lastmod = published = title = None
        for child in element:
            name = local_name(child.tag)
            if name == "loc":
                loc = (child.text or "").strip()
            elif name == "lastmod":
                lastmod = child.text
            elif name == "news":
                for part in child:
                    part_name = local_name(part.tag)
                    if part_name == "publication_date":
                        published = part.text
                    elif part_name == "title":
                        title = (part.text or "").strip() or None
        if not loc:
            return None
        is_news = published is not None or title is not None
        # A news entry edited after publication: the later date is when it changed.
        dates = [d for d in (parse_listing_date(published), parse_listing_date(lastmod)) if d]
        date = max(dates) if dates else None
        return Listed(loc, date, title, is_news)


def text_sitemap_entries(body: bytes) -> Iterator[Listed]:
    """A plain-text sitemap: one URL a line (UTF-8, as the protocol says). Lines that are
    not http(s) URLs are skipped."""
    for raw in BytesIO(body.removeprefix(_BOM)):
        line = raw.strip()
        if line.lower().startswith((b"http://", b"https://")):
            yield Listed(line.decode("utf-8", "replace"))


# "Sitemap:" as robots.txt files spell it in the wild: any case, "Site-map", "Sitemaps",
# space before the colon.
_ROBOTS_SITEMAP_RE = re.compile(rb"^\s*site-?maps?\s*:\s*(\S+)", re.IGNORECASE)


def robots_sitemaps(body: bytes) -> Iterator[str]:
    """The sitemap URLs a robots.txt names (relative ones are resolved by the caller)."""
    for raw in BytesIO(body.removeprefix(_BOM)):
        match = _ROBOTS_SITEMAP_RE.match(raw)
        if match:
            yield match.group(1).decode("utf-8", "replace")

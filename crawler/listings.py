"""What the web source reads besides pages: listing dates, listings' DTDs, and its own
arguments (URL lists and the TOML file of sites)."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from scrapy.exceptions import NotConfigured
from scrapy.linkextractors import IGNORED_EXTENSIONS

# What Scrapy's IgnoreRequest messages mean, as drop reasons.
IGNORED_REASONS = {
    "Filtered offsite request": "offsite",
    "Forbidden by robots.txt": "robots_txt",
    "max redirections reached": "too_many_redirects",
    "exceeded DOWNLOAD_MAXSIZE": "too_large",
}

# Links that cannot lead to an article page: Scrapy's list of non-HTML extensions, and the
# data files (sitemaps, feeds, JSON) that a news site links to from its pages.
SKIPPED_EXTENSIONS = [*IGNORED_EXTENSIONS, "gz", "xml", "json"]


def parse_listing_date(value: str | None) -> datetime | None:
    """A sitemap lastmod (W3C datetime) or a feed date (RFC 822 or ISO 8601), as naive UTC."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


# A document type declaration, with its internal subset if it has one.
DOCTYPE_RE = re.compile(rb"<!DOCTYPE\b[^\[>]*(?:\[.*?\]\s*)?>", re.DOTALL)


def without_dtd(body: bytes) -> bytes | None:
    """BODY without its DOCTYPE, if that declares entities; otherwise None.

    Sitemaps and feeds have no use for entity declarations: a listing that makes them is
    attacking the parser (entity expansion, external entities). libxml2 never resolves
    them here, but on meeting an expansion bomb it stops parsing, which would lose the good
    entries after it. Without the declarations, the references are only unknown entities.
    """
    start = body.find(b"<!DOCTYPE", 0, 4096)
    match = DOCTYPE_RE.match(body, start) if start >= 0 else None
    if match is None or b"<!ENTITY" not in match.group(0):
        return None
    return body[:start] + body[match.end() :]


def split_urls(value: str | None) -> list[str]:
    return [url.strip() for url in (value or "").split(",") if url.strip()]


def load_sources(path: str) -> dict[str, list[str]]:
    """A TOML file of ``[[site]]`` tables with ``sitemaps``, ``feeds`` and ``start`` lists."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise NotConfigured(f"cannot read sources file {path}: {exc}") from exc
    found: dict[str, list[str]] = {"sitemaps": [], "feeds": [], "start": []}
    for site in data.get("site", []):
        for key in found:
            found[key] += [str(url) for url in site.get(key, [])]
    return found

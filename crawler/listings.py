"""What the web source reads besides pages: listing dates, listings' DTDs, why a request
failed, and its own arguments (URL lists and the TOML file of sites)."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest, ResponseDataLossError
from scrapy.linkextractors import IGNORED_EXTENSIONS
from twisted.internet.error import TimeoutError as ConnectTimeoutError
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

# What Scrapy's IgnoreRequest messages mean, as drop reasons.
IGNORED_REASONS = {
    "Filtered offsite request": "offsite",
    "Forbidden by robots.txt": "robots_txt",
    "max redirections reached": "too_many_redirects",
    "exceeded DOWNLOAD_MAXSIZE": "too_large",
}


def failure_reason(failure: Failure) -> tuple[str, str]:
    """A failed request's drop reason (``http_404``, ``timeout``, …) and its detail."""
    response = getattr(failure.value, "response", None)
    message = failure.getErrorMessage()
    if response is not None:
        return f"http_{response.status}", f"HTTP {response.status}"
    if isinstance(failure.value, IgnoreRequest):
        return next((r for m, r in IGNORED_REASONS.items() if m in message), "ignored"), message
    if "download max size" in message or "download warn size" in message:
        return "too_large", message
    if isinstance(failure.value, (DownloadTimeoutError, ConnectTimeoutError)):
        return "timeout", message
    data_loss = "the connection closed before the body its Content-Length gave"
    if isinstance(failure.value, ResponseDataLossError):
        return "data_loss", data_loss
    if isinstance(failure.value, ResponseFailed):
        # Twisted's own message is a list of inner failures, often empty to read.
        inner = [reason.value for reason in failure.value.reasons]
        names = ", ".join(f"{type(value).__name__}: {value}" for value in inner)
        return "fetch_error", f"the response failed ({names or 'no reason given'})"
    return "fetch_error", message or type(failure.value).__name__


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
# What may come before it: a byte-order mark, the XML declaration, processing instructions,
# comments and white space, however long.
PROLOG_RE = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)


def without_dtd(body: bytes) -> bytes | None:
    """BODY without its DOCTYPE, if that declares entities; otherwise None.

    Sitemaps and feeds have no use for entity declarations: a listing that makes them is
    attacking the parser (entity expansion, external entities). libxml2 never resolves
    them here, but on meeting an expansion bomb it stops parsing, which would lose the good
    entries after it. Without the declarations, the references are only unknown entities.
    """
    prolog = PROLOG_RE.match(body)
    start = prolog.end() if prolog is not None else 0
    match = DOCTYPE_RE.match(body, start)
    if match is None or b"<!ENTITY" not in match.group(0):
        return None
    return body[:start] + body[match.end() :]


def split_urls(value: str | None) -> list[str]:
    return [url.strip() for url in (value or "").split(",") if url.strip()]


SOURCE_KEYS = ("sitemaps", "feeds", "start")


def load_sources(path: str) -> dict[str, list[str]]:
    """A TOML file of ``[[site]]`` tables with ``sitemaps``, ``feeds`` and ``start`` lists;
    ValueError, in one line, for a file that cannot be read or is not of that shape."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read sources file {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"sources file {path} is not valid TOML: {exc}") from exc
    sites = data.get("site", [])
    if not isinstance(sites, list) or not all(isinstance(site, dict) for site in sites):
        raise ValueError(f"sources file {path}: sites are [[site]] tables, one per site")
    found: dict[str, list[str]] = {key: [] for key in SOURCE_KEYS}
    for number, site in enumerate(sites, 1):
        for key in set(site) - set(SOURCE_KEYS):
            raise ValueError(
                f"sources file {path}: site {number} has an unknown key {key!r} "
                f"(known: {', '.join(SOURCE_KEYS)})"
            )
        for key in SOURCE_KEYS:
            urls = site.get(key, [])
            if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
                raise ValueError(
                    f"sources file {path}: site {number}: {key} must be a list of URLs, "
                    f'like {key} = ["https://example.org/…"], got {urls!r}'
                )
            found[key] += urls
    return found

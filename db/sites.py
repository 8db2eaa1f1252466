"""Which site a URL belongs to: its registered domain (news.example.co.uk → example.co.uk,
from the public suffix list via courlan). Copies across sites are syndication, copies
within one are a site's own (pipelines/dedup.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from courlan import extract_domain


def site_domain(url: str) -> str:
    """URL's registered domain; the host itself for addresses and single-label names, ""
    for a URL without a host (a file's)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    if not host:
        return ""
    return extract_domain(url) or host

"""One spelling per article URL: what the news spider and its middlewares compare."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from w3lib.url import canonicalize_url, url_query_cleaner

# Query parameters that say where a reader came from, never which article it is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "ref",
        "ref_src",
        "cmpid",
        "xtor",
        "at_medium",
        "at_campaign",
    }
)
TRACKING_PREFIXES = ("utm_",)


def canonical_url(url: str) -> str:
    """One spelling per article: no fragment, no tracking parameters, sorted query."""
    query = urlsplit(url).query
    tracking = [
        key
        for key, _value in parse_qsl(query, keep_blank_values=True)
        if key.lower() in TRACKING_PARAMS or key.lower().startswith(TRACKING_PREFIXES)
    ]
    if tracking:
        url = url_query_cleaner(url, tracking, remove=True, keep_fragments=False)
    return canonicalize_url(url, keep_fragments=False)


def stored_url(url: str) -> str:
    """The URL an article fetched from URL is stored under: its canonical spelling on the
    web; a file's URI as the files source read it (canonicalization would unquote some of
    a file name's characters, and two files could then share one URL)."""
    return url if url.startswith("file:") else canonical_url(url)


def in_domains(url: str, domains: Iterable[str]) -> bool:
    """Whether URL's host is one of DOMAINS or a subdomain of one (ports are ignored)."""
    host = urlsplit(url).hostname or ""
    return any(host == d or host.endswith(f".{d}") for d in domains)

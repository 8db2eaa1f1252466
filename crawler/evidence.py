"""What a web page says about itself, for the cleaning stage to decide, with the extracted
text in hand, whether it is an article (pipelines/articles.py): its structured data, its
Open Graph type, the shape of its URL, and how many headline links it carries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import HtmlResponse

from crawler.items import Evidence
from crawler.revisits import Listed

# A link whose text has this many words is a headline (a teaser), not a menu entry.
HEADLINE_WORDS = 5
# Path segments that name a list of articles rather than one: /tag/x, /category/x, ….
HUB_SEGMENTS = frozenset(
    {
        "tag",
        "tags",
        "category",
        "categories",
        "topic",
        "topics",
        "section",
        "sections",
        "author",
        "authors",
        "search",
        "archive",
        "archives",
        "rubrique",
        "theme",
        "themes",
        "auteur",
        "page",
    }
)
# schema.org's Article and its subtypes, as publishers use them.
ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "AnalysisNewsArticle",
        "AskPublicNewsArticle",
        "BackgroundNewsArticle",
        "OpinionNewsArticle",
        "ReportageNewsArticle",
        "ReviewNewsArticle",
        "SatiricalArticle",
        "AdvertiserContentArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
        "ScholarlyArticle",
        "TechArticle",
    }
)
# Types that make a page a list of other things, or no article at all.
LIST_TYPES = frozenset(
    {"CollectionPage", "SearchResultsPage", "ProfilePage", "ContactPage", "AboutPage"}
)
_NUMBER_RE = re.compile(r"^\d{1,4}$")
# An article's own part of a URL: a slug of three words or more, a long number (an id),
# or a date in the path.
_SLUG_RE = re.compile(r"[^\W_]+(?:[-_][^\W_]+){2,}")
_ID_RE = re.compile(r"\d{5,}")
_DATE_PATH_RE = re.compile(r"/(?:19|20)\d\d/(?:0?[1-9]|1[0-2])(?:/|$)")
_ID_QUERY_RE = re.compile(r"(?:^|&)(?:p|id|article|story|a)=\w", re.IGNORECASE)
FRONT_PATHS = frozenset({"", "/", "/index.html", "/index.htm", "/index.php"})


def article_url(url: str) -> bool:
    """Whether URL is shaped like one article's: a slug, an id, a date in the path."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    return (
        any(_SLUG_RE.search(s) or _ID_RE.search(s) for s in segments)
        or bool(_DATE_PATH_RE.search(parts.path))
        or bool(_ID_QUERY_RE.search(parts.query))
    )


def schema_types(response: HtmlResponse) -> tuple[str, ...]:
    """The schema.org @types of the page's own JSON-LD objects (top level and @graph, not
    their parts: an article's publisher is an Organization, its image an ImageObject)."""
    found: list[str] = []
    for block in response.xpath("//script[@type='application/ld+json']/text()").getall():
        try:
            data = json.loads(block.strip().rstrip(";"), strict=False)
        except (ValueError, RecursionError):
            continue  # not JSON, or nested past what a page's metadata ever needs
        for thing in _things(data):
            kinds = thing.get("@type")
            for kind in kinds if isinstance(kinds, list) else [kinds]:
                if isinstance(kind, str) and kind not in found:
                    found.append(kind.rpartition("/")[2])
    return tuple(found)


def _things(data: Any) -> Iterator[dict[str, Any]]:
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict):
            continue
        yield item
        graph = item.get("@graph")
        for part in graph if isinstance(graph, list) else []:
            if isinstance(part, dict):
                yield part


def hub_url(url: str) -> str | None:
    """Why URL's shape says it lists articles (a site's front page, a tag, category,
    author or search page, page N of a list), or None."""
    parts = urlsplit(url)
    if parts.path.lower() in FRONT_PATHS and not parts.query:
        return "the site's front page"
    if article_url(url):
        return None  # /topics/climate/why-the-summer-was-hot is an article
    segments = [s.lower() for s in parts.path.split("/") if s]
    for index, segment in enumerate(segments):
        rest = segments[index + 1 :]
        paged = segment != "page" or bool(rest and _NUMBER_RE.match(rest[0]))
        if segment in HUB_SEGMENTS and len(rest) <= 2 and paged:
            return f"a /{segment}/ page"
    return None


# Links with HEADLINE_WORDS words or more (spaces between them, after normalize-space),
# counted by libxml2 itself: a tenth of the cost of reading each link's text in Python.
_HEADLINE_LINKS = (
    "count(//body//a[string-length(normalize-space(.)) - "
    f"string-length(translate(normalize-space(.), ' ', '')) >= {HEADLINE_WORDS - 1}])"
)


def headline_links(response: HtmlResponse) -> int:
    return int(float(response.xpath(_HEADLINE_LINKS).get() or 0))


def page_evidence(response: HtmlResponse, url: str, listed: Listed | None) -> Evidence:
    og_type = response.xpath("//meta[@property='og:type']/@content").get()
    evidence = Evidence(
        og_type=og_type.strip().lower() if og_type else None,
        schema_types=schema_types(response),
        hub_url=hub_url(url),
        article_url=article_url(url),
        claim=listed.claim if listed is not None else False,
        listed_date=listed.date if listed is not None else None,
        listed_title=listed.title if listed is not None else None,
    )
    if evidence_verdict(evidence) is not UNDECIDED:
        return evidence  # the text rule will not be asked: its count is not needed
    return replace(evidence, headline_links=headline_links(response))


# evidence_verdict's answer when only the text can decide.
UNDECIDED = "undecided"


def evidence_verdict(evidence: Evidence) -> str | None:
    """Rules 1 to 3 of the article rule (pipelines/articles.py): None for an article, why
    it is not one, or UNDECIDED when the evidence says neither and the text decides."""
    types = set(evidence.schema_types)
    if evidence.claim or types & ARTICLE_TYPES:
        return None
    listed = sorted(types & LIST_TYPES)
    if listed:
        return f"its structured data says {listed[0]}"
    if evidence.hub_url is not None:
        return f"its URL is {evidence.hub_url}"
    if evidence.og_type == "article" or evidence.article_url:
        return None
    return UNDECIDED

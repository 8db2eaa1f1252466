"""The item that travels spider → cleaning → dedup → stories → storage, and the typed results
the cleaning stage makes of each text for the stages after it. No Scrapy here: the cleaning
workers import this module."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from db.records import ArticleRecord, StoredArticle


@dataclass(frozen=True)
class Fingerprint:
    """What dedup needs of a text: the hash of its normalized form, its MinHash signature
    (b"" when it has no word to shingle) and the signature's band keys."""

    content_hash: str
    signature: bytes
    bands: tuple[int, ...]


@dataclass(frozen=True)
class StoryPrint:
    """What story grouping needs of an article: its story terms with their counts
    (pipelines/storyfeatures.py), the MinHash signature of its strongest ones (b"" when it
    has none) and the signature's band keys."""

    signature: bytes
    bands: tuple[int, ...]
    terms: tuple[tuple[str, int], ...] = ()
    # The terms as a unit vector by term key (pipelines/storyvectors.py), made beside them.
    vector: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Derived:
    """What the cleaning stage made of the cleaned text for later stages, one field per
    stage that registered a :class:`Derivation` (None for a stage that did not)."""

    dedup: Fingerprint | None = None
    stories: StoryPrint | None = None


class Derivation(Hashable, Protocol):
    """Work a later stage does on the cleaned title, text and language alone (signatures, hashes),
    registered with the crawl's store (crawler.store.CrawlStore.derive) and done where the
    text is cleaned: in a worker when there are several, so that the crawl process, which
    every article passes through in turn, keeps only the work that needs the store. A frozen
    dataclass of plain parameters: it is sent to each worker once, as the worker starts."""

    @property
    def stage(self) -> Literal["dedup", "stories"]:
        """The field of :class:`Derived` it fills, and whose CPU time (``news/cpu/<stage>``)
        it takes."""
        ...

    def make(self) -> Callable[[str | None, str, str | None], Fingerprint | StoryPrint]:
        """The function of (title, text, language), made once per process (it may keep
        caches)."""
        ...


@dataclass(frozen=True)
class Evidence:
    """What a web page and its listing say of it, for the cleaning stage to decide whether
    it is an article (crawler/evidence.py gathers it, pipelines/articles.py weighs it)."""

    og_type: str | None = None
    schema_types: tuple[str, ...] = ()
    # Why the URL's shape says the page lists articles ("a /tag/ page"), or None.
    hub_url: str | None = None
    # The URL is shaped like one article's (a slug, an id, a date in the path).
    article_url: bool = False
    # Links whose text is headline-long.
    headline_links: int = 0
    # A feed entry or news sitemap entry presented it as an article.
    claim: bool = False
    listed_date: datetime | None = None
    listed_title: str | None = None


@dataclass(kw_only=True)
class ArticleItem(ArticleRecord):
    """One document; each stage fills in its own fields (those it stores are ArticleRecord's).

    Spider: url, source, kind, raw, fetched_at (and metadata it already knows).
    Cleaning: title, text, author, site_name, published_at, language, and ``derived``.
    Dedup: content_hash, signature, duplicate_of, similarity, story_id, dedup, dedup_bands.
    Stories: story_id (of a canonical article), story_signature, story_similarity,
    story_bands. Storage: id.
    """

    kind: Literal["html", "text"]
    raw: str
    derived: Derived = field(default_factory=Derived)
    # A web page's evidence of being an article; None for documents taken as they are
    # (the files source's).
    evidence: Evidence | None = None
    # The stored article this item revises (the same URL, fetched again, a new text).
    revision_of: StoredArticle | None = None
    # Only figures changed in the revision (pipelines/dedup.py).
    figures_only: bool = False
    # The warc source's record: (file, file size, offset of the next record).
    origin: tuple[str, int, int] | None = None
    # "new", "exact" or "near": how dedup classified the item.
    dedup: str = ""
    id: int | None = None

"""What goes into and comes out of the store, as plain dataclasses (no SQLAlchemy rows)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

# The row of term_counts that counts the articles themselves (db/storyterms.py); here, where
# the cleaning workers can import it without SQLAlchemy.
DOCUMENTS_KEY = 0


def utcnow() -> datetime:
    """Naive UTC, the form every timestamp in the store takes."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(kw_only=True)
class ArticleRecord:
    """An article as the store keeps it: the one definition of its fields. The crawl's item
    extends it (crawler.items.ArticleItem), so the stages fill these fields in and storage
    hands the item to :meth:`db.store.Store.add_article` as it is.

    ``duplicate_of`` and ``story_id`` are None for a canonical article until it is stored."""

    url: str
    fetched_at: datetime
    text: str = ""
    content_hash: str = ""
    signature: bytes = b""
    source: str | None = None
    title: str | None = None
    author: str | None = None
    site_name: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    duplicate_of: int | None = None
    similarity: float | None = None
    story_id: int | None = None
    story_signature: bytes | None = None
    story_terms: bytes | None = None
    story_similarity: float | None = None
    story_evidence: str | None = None
    # The page's canonical link when it names another site (a syndication signal).
    canonical_url: str | None = None
    # None (canonical), "exact" or "near" (a copy on its canonical's site), "syndicated".
    duplicate_kind: str | None = None
    # Band keys of the signatures, for a canonical article (see lsh_buckets); not columns.
    dedup_bands: tuple[int, ...] = ()
    story_bands: tuple[int, ...] = ()
    # A canonical article's story term keys, counted in term_counts, and its story's
    # centroid with the article in it (db/storyterms.py); not columns either.
    story_term_keys: tuple[int, ...] = ()
    story_centroid: bytes | None = None


# The fields of ArticleRecord that are columns of ``articles`` (a test checks the two agree).
INDEX_FIELDS = frozenset({"dedup_bands", "story_bands", "story_term_keys", "story_centroid"})
ARTICLE_COLUMNS = tuple(f.name for f in fields(ArticleRecord) if f.name not in INDEX_FIELDS)


@dataclass(frozen=True)
class StoryMatch:
    """A stored canonical article, as story grouping sees it."""

    id: int
    story_id: int
    date: datetime


@dataclass(frozen=True)
class CanonicalMatch:
    """A stored canonical article, as dedup sees it."""

    id: int
    story_id: int
    content_hash: str
    signature: bytes
    url: str = ""


@dataclass(frozen=True)
class StoredArticle:
    """What a revision replaces: the stored article at a URL fetched again."""

    id: int
    fetched_at: datetime
    content_hash: str
    title: str | None
    text: str
    signature: bytes
    story_signature: bytes | None
    duplicate_of: int | None
    story_id: int


@dataclass
class DedupCandidates:
    """What the store holds that bears on one new article (Store.dedup_candidates)."""

    url_stored: bool = False
    exact: CanonicalMatch | None = None
    near: list[CanonicalMatch] = field(default_factory=list)


@dataclass
class RunCounts:
    """What a run did, as written to its ``crawl_runs`` row."""

    new: int = 0
    exact_duplicate: int = 0
    near_duplicate: int = 0
    already_stored: int = 0
    revised: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    errors: int = 0


@dataclass(frozen=True)
class UnstoredEntry:
    """A row of the ``urls`` ledger: an article URL seen and not stored."""

    url: str
    reason: str
    attempts: int
    first_attempt: datetime
    last_attempt: datetime
    listed_at: datetime | None


@dataclass(frozen=True)
class WarcProgress:
    """How far a WARC file has been read: its size then, the offset of the first record
    not yet handled, when it was read to its end (None: not yet), and the digest of its
    first bytes (None: recorded before digests were kept)."""

    size: int
    offset: int
    finished_at: datetime | None
    head: str | None = None

"""Table definitions of the store; the migrations in db/migrations create exactly these."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Story(Base):
    """Articles about one event: near-duplicate groups joined by their story features.

    A story absorbed into another by a merge keeps its row, with ``merged_into`` set to the
    survivor, so its id still resolves; the counts are kept for live stories only.
    """

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Nullable because the story row is written just before its first article.
    canonical_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", use_alter=True, name="fk_stories_canonical_id")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    merged_into: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", name="fk_stories_merged_into")
    )
    article_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    source_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    first_seen: Mapped[datetime | None] = mapped_column(DateTime)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime)
    # The sum of its canonical articles' term vectors, cut to its heaviest terms
    # (pipelines/storyvectors.py): what a new article is compared with.
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_stories_merged_into", "merged_into"),)


class StoryMerge(Base):
    """One story absorbed into another: when, by which run, and why."""

    __tablename__ = "story_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    absorbed_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), nullable=False)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), nullable=False)
    merged_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    similarity: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (Index("ix_story_merges_absorbed_id", "absorbed_id"),)


class CrawlRun(Base):
    """One `scrapy crawl` invocation against the store: the run ledger."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spider: Mapped[str] = mapped_column(String(100), nullable=False)
    arguments: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="running")
    finish_reason: Mapped[str | None] = mapped_column(String(100))
    items_new: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    items_exact_duplicate: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    items_near_duplicate: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    items_already_stored: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    items_revised: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    items_dropped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    dropped_reasons: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    errors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Who runs it: a 'running' row whose process is gone on this host is a stale lock.
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(255))
    # The processes of one fleet (a shared frontier) write one row each, with one fleet id.
    fleet_id: Mapped[str | None] = mapped_column(String(64), index=True)


class Article(Base):
    """One stored article; `duplicate_of` is NULL for canonical articles."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    source: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    language: Mapped[str | None] = mapped_column(String(16))
    fetched_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(32), nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    similarity: Mapped[float | None] = mapped_column(Float)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), nullable=False)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    # MinHash of the strongest story terms (pipelines/storyfeatures.py); NULL until
    # computed, which duplicates need only if they become canonical.
    story_signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The article's story terms as a vector (pipelines/storyvectors.py).
    story_terms: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The TF-IDF cosine by which a canonical article joined an existing story's centroid,
    # and the shared terms that weighed most in it.
    story_similarity: Mapped[float | None] = mapped_column(Float)
    story_evidence: Mapped[str | None] = mapped_column(Text)
    # The page's own rel=canonical (or og:url) when it names another site: a syndication
    # signal; never the article's URL.
    canonical_url: Mapped[str | None] = mapped_column(Text)
    # NULL for a canonical article; "exact" or "near" for a copy on its canonical's site;
    # "syndicated" for a copy on another site, or a page whose canonical_url names one.
    duplicate_kind: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_articles_content_hash", "content_hash"),
        Index("ix_articles_duplicate_of", "duplicate_of"),
        Index("ix_articles_story_id", "story_id"),
        Index("ix_articles_published_at", "published_at"),
    )


class Meta(Base):
    """Key/value facts about the store itself, such as the MinHash parameters it was signed with."""

    __tablename__ = "news_meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


class Source(Base):
    """A sitemap or feed, with what its server said last time, for conditional requests."""

    __tablename__ = "sources"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # When it was last fetched in full by a run that finished.
    fetched_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class TermCount(Base):
    """How many canonical articles have a story term among their terms (``term`` is the
    term's 32-bit key, pipelines/storyvectors.py); key 0 counts the articles themselves.
    Kept in the article's own transaction, so the inverse document frequencies follow the
    store as it grows."""

    __tablename__ = "term_counts"

    term: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    articles: Mapped[int] = mapped_column(Integer, nullable=False)


class LshBucket(Base):
    """One band of a canonical article's MinHash signature: the LSH index, kept in the store
    and written in the article's own transaction, so it is never rebuilt at start-up and
    never out of step with the articles. ``lsh`` names the index: 1 near-duplicates,
    2 stories."""

    __tablename__ = "lsh_buckets"

    lsh: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    band_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)

    # No index on article_id: it would double the table's size, and an article leaves an
    # index by its band keys, which its stored signature gives (Store.delete_buckets).
    __table_args__ = ({"sqlite_with_rowid": False},)


class UnstoredUrl(Base):
    """An article URL that was requested, or decided on, and not stored: why, and when, so
    that later runs fetch it again only when it may have changed (crawler/revisits.py). The
    row goes when the article is stored."""

    __tablename__ = "urls"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    reason: Mapped[str] = mapped_column(String(100), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    first_attempt: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_attempt: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    # The date its listing (sitemap lastmod, feed entry date) gave at the last attempt.
    listed_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_urls_reason", "reason"),)


class ArticleVersion(Base):
    """Every text an article has had, once it has had more than one: version 1 is the
    first. The article's row holds the latest; each version keeps the dedup and story
    decision made for its text."""

    __tablename__ = "article_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
    story_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    # "first" (version 1), "text" (the words changed) or "figures" (only figures changed:
    # a corrected toll, or a counter; successive figures-only changes share one version).
    change: Mapped[str] = mapped_column(String(16), nullable=False)

    __table_args__ = (
        Index("ix_article_versions_article_id_version", "article_id", "version", unique=True),
    )


class WarcFile(Base):
    """A WARC or ARC file the ``warc`` source has read: how far, so that a rerun skips a
    file read to its end and resumes one it was stopped in (``offset`` is committed with
    the articles of the records before it)."""

    __tablename__ = "warc_files"

    path: Mapped[str] = mapped_column(Text, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    # The digest of the file's first bytes (crawler.warcs.head_digest): a file replaced
    # under its name is another file.
    head: Mapped[str | None] = mapped_column(String(64))

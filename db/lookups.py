"""What the stages ask the store: dedup's and stories' look-ups, the audit's reads."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Integer, Row, bindparam, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import NullType

from db.base import DEDUP_LSH, STORY_LSH, StoreBase, articles, lsh_buckets, sources, stories
from db.records import CanonicalMatch, DedupCandidates, StoredArticle, StoryMatch

# The statements every item runs, built once: SQLAlchemy memoizes a statement's cache key on
# the object, so reusing one skips most of the per-call work of building it anew (measured:
# a URL look-up took 0.08 ms built per call, 0.035 ms prebuilt).
_URL_STORED = select(articles.c.id).where(articles.c.url == bindparam("url")).limit(1)
_CANONICAL_COLUMNS = (
    articles.c.id,
    articles.c.story_id,
    articles.c.content_hash,
    articles.c.signature,
    articles.c.url,
)
# Rows of the dedup look-up, by what found them.
_BY_URL, _BY_HASH, _BY_BAND = 1, 0, 2


class _InBuckets(ColumnElement[Any]):
    """``id IN (members)``, written so that each database reads the buckets first and then
    the few articles they name, whatever its statistics say (see the compilers below)."""

    # Untyped: as a Boolean, SQLAlchemy would write "(…) = 1" on SQLite, which has no
    # boolean type, and SQLite plans that less well than the bare IN.
    type = NullType()
    inherit_cache = False  # built once per statement shape (the lru_caches below)

    def __init__(self, column: Any, members: Any) -> None:
        self.column = column
        self.members = members


@compiles(_InBuckets)
def _in_buckets(element: _InBuckets, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} IN ({compiler.process(element.members, **kw)})"


@compiles(_InBuckets, "postgresql")
def _in_buckets_postgresql(element: _InBuckets, compiler: Any, **kw: Any) -> str:
    # As an IN, PostgreSQL may plan a join that probes the buckets once per article, which
    # it does when its statistics say the tables are small (a new store, autovacuum off):
    # every look-up then costs a pass over the store. ARRAY(subquery) is computed once,
    # through the buckets' key, and the articles are found by id.
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY(ARRAY({compiler.process(element.members, **kw)}))"


def _bucket_members(lsh: int, count: int) -> Any:
    """Articles in any of COUNT buckets of one index, the band keys bound as k0, k1, ….
    A fixed number of parameters, not an expanding IN: SQLAlchemy renders an expanding IN's
    SQL anew on every call, which made up a third of the look-up's cost."""
    # Typed, so that PostgreSQL compares them with the integer column through its index.
    keys: list[Any] = [bindparam(f"k{i}", type_=Integer) for i in range(count)]
    return select(lsh_buckets.c.article_id).where(
        lsh_buckets.c.lsh == lsh, lsh_buckets.c.band_key.in_(keys)
    )


def _key_params(keys: Sequence[int]) -> dict[str, int]:
    return {f"k{i}": key for i, key in enumerate(keys)}


def _dedup_part(found_by: int, *where: Any) -> Any:
    return select(literal(found_by).label("found_by"), *_CANONICAL_COLUMNS).where(*where)


_URL_ROW = _dedup_part(_BY_URL, articles.c.url == bindparam("url"))
_HASH_ROWS = _dedup_part(
    _BY_HASH, articles.c.content_hash == bindparam("hash"), articles.c.duplicate_of.is_(None)
)
_URL_OR_HASH = union_all(_URL_ROW, _HASH_ROWS)


@functools.lru_cache(maxsize=8)
def _dedup_lookup(count: int) -> Any:
    """Dedup's three questions in one round trip: is the URL stored, which canonical article
    has this exact text, and which share a band with it (COUNT band keys)."""
    if not count:
        return _URL_OR_HASH
    in_buckets = _dedup_part(
        _BY_BAND,
        _InBuckets(articles.c.id, _bucket_members(DEDUP_LSH, count)),
        articles.c.duplicate_of.is_(None),
    )
    return union_all(_URL_ROW, _HASH_ROWS, in_buckets)


@functools.lru_cache(maxsize=8)
def _story_matches(count: int) -> Any:
    return select(
        articles.c.id,
        articles.c.story_id,
        func.coalesce(articles.c.published_at, articles.c.fetched_at).label("date"),
    ).where(
        _InBuckets(articles.c.id, _bucket_members(STORY_LSH, count)),
        articles.c.duplicate_of.is_(None),
        articles.c.story_signature.is_not(None),
    )


class Lookups(StoreBase):
    """Reads, on the store's connection (so the open batch counts)."""

    def has_url(self, url: str) -> bool:
        return self.conn.execute(_URL_STORED, {"url": url}).first() is not None

    def dedup_candidates(self, url: str, content_hash: str, keys: Sequence[int]) -> DedupCandidates:
        """Whether URL is stored, the canonical article with CONTENT_HASH (the oldest, should
        there be several), and the canonical articles sharing a band with the dedup band
        KEYS, in one statement."""
        params: dict[str, Any] = {"url": url, "hash": content_hash, **_key_params(keys)}
        found = DedupCandidates()
        for found_by, *columns in self._fetch(_dedup_lookup(len(keys)), params):
            if found_by == _BY_URL:
                found.url_stored = True
            elif found_by == _BY_HASH:
                if found.exact is None or columns[0] < found.exact.id:
                    found.exact = CanonicalMatch(*columns)
            else:
                found.near.append(CanonicalMatch(*columns))
        return found

    # -- what story grouping asks -----------------------------------------------------------

    def story_signature_of(self, article_id: int) -> bytes | None:
        return cast(
            "bytes | None",
            self.conn.execute(
                select(articles.c.story_signature).where(articles.c.id == article_id)
            ).scalar(),
        )

    def iter_canonical_signatures(self, chunk: int = 10_000) -> Iterator[tuple[int, bytes]]:
        """(id, signature) of every canonical article, read in pages by id."""
        for row in self._canonical_pages(articles.c.signature, chunk=chunk):
            yield row.id, row.signature

    def _canonical_pages(self, column: Any, *where: Any, chunk: int) -> Iterator[Any]:
        """Canonical articles' content_hash and COLUMN, in pages by id, so that a large store
        is never read in one result."""
        last_id = 0
        while True:
            rows = self.conn.execute(
                select(articles.c.id, articles.c.content_hash, column)
                .where(articles.c.duplicate_of.is_(None), articles.c.id > last_id, *where)
                .order_by(articles.c.id)
                .limit(chunk)
            ).all()
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id

    def story_matches(self, keys: Sequence[int]) -> list[StoryMatch]:
        """Canonical articles sharing a band with these story band keys."""
        if not keys:
            return []
        rows = self._fetch(_story_matches(len(keys)), _key_params(keys))
        return [StoryMatch(*row) for row in rows]

    def iter_story_signatures(self, chunk: int = 10_000) -> Iterator[tuple[int, bytes]]:
        """(id, story_signature) of every canonical article that has one."""
        signature = articles.c.story_signature
        for row in self._canonical_pages(signature, signature.is_not(None), chunk=chunk):
            yield row.id, row.story_signature

    def missing_story_signatures(
        self, chunk: int = 1000
    ) -> list[tuple[int, str | None, str, str | None, int]]:
        """(id, title, text, language, story_id) of up to CHUNK canonical articles with no
        story signature yet."""
        rows = self.conn.execute(
            select(
                articles.c.id,
                articles.c.title,
                articles.c.text,
                articles.c.language,
                articles.c.story_id,
            )
            .where(articles.c.duplicate_of.is_(None), articles.c.story_signature.is_(None))
            .order_by(articles.c.id)
            .limit(chunk)
        ).all()
        return [(row.id, row.title, row.text, row.language, row.story_id) for row in rows]

    def resolve_story(self, story_id: int) -> int | None:
        """The live story an id stands for (itself, or the story it was merged into)."""
        row = self.conn.execute(
            select(stories.c.id, stories.c.merged_into).where(stories.c.id == story_id)
        ).first()
        if row is None:
            return None
        return int(row.merged_into or row.id)

    # -- what the dedup audit asks ------------------------------------------------------------

    def iter_audit_rows(self) -> Iterator[Any]:
        """Every article's dedup and story facts, in id order (the order a crawl saw them)."""
        yield from self.conn.execute(
            select(
                articles.c.id,
                articles.c.url,
                articles.c.title,
                articles.c.content_hash,
                articles.c.signature,
                articles.c.duplicate_of,
                articles.c.similarity,
                articles.c.story_id,
                articles.c.story_similarity,
                articles.c.duplicate_kind,
                articles.c.language,
                articles.c.story_evidence,
            ).order_by(articles.c.id)
        )

    def article_texts(self, ids: Iterable[int]) -> dict[int, str]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        rows = self.conn.execute(
            select(articles.c.id, articles.c.text).where(articles.c.id.in_(ids))
        )
        return {row.id: row.text for row in rows}

    def stored_article(self, url: str) -> StoredArticle | None:
        """The article stored under URL, as a revision of it needs it."""
        row = self.conn.execute(
            select(
                articles.c.id,
                articles.c.fetched_at,
                articles.c.content_hash,
                articles.c.title,
                articles.c.text,
                articles.c.signature,
                articles.c.story_signature,
                articles.c.duplicate_of,
                articles.c.story_id,
            ).where(articles.c.url == url)
        ).first()
        return None if row is None else StoredArticle(**row._mapping)

    def count_articles(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(articles)).scalar_one())

    def get_source(self, url: str) -> Row[Any] | None:
        return self.conn.execute(select(sources).where(sources.c.url == url)).first()

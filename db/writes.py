"""The store's writes: articles with their stories and index rows, merges, decisions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from db.base import (
    DEDUP_LSH,
    STORY_LSH,
    StoreError,
    articles,
    lsh_buckets,
    sources,
    stories,
    story_merges,
)
from db.records import ARTICLE_COLUMNS, ArticleRecord, utcnow
from db.storyterms import StoryTerms

_INSERT_ARTICLE = insert(articles)
_INSERT_STORY = insert(stories)
_INSERT_BUCKETS = insert(lsh_buckets)
_SET_CANONICAL = (
    update(stories)
    .where(stories.c.id == bindparam("story"))
    .values(canonical_id=bindparam("article"))
)


class Writes(StoryTerms):
    """Writes, in the store's open transaction: nothing here commits."""

    def add_article(self, record: ArticleRecord, *, run_id: int | None) -> tuple[int, int]:
        """Insert one article (and its story, when it is canonical); return (id, story_id).

        Not committed: call :meth:`commit` once per batch.
        """
        try:
            return self._insert_article(record, run_id)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store {record.url} in {self.display_url}: {exc}") from exc

    # -- the LSH indexes -----------------------------------------------------------------------

    def add_buckets(self, lsh: int, article_id: int, keys: Iterable[int]) -> None:
        self._insert_buckets([(lsh, key) for key in set(keys)], article_id)

    def _insert_buckets(self, entries: list[tuple[int, int]], article_id: int) -> None:
        """Index one article: ENTRIES are (lsh, band_key) pairs, without repeats."""
        if entries:
            self._execute_many(
                _INSERT_BUCKETS,
                [{"lsh": lsh, "band_key": key, "article_id": article_id} for lsh, key in entries],
            )

    def delete_buckets(self, lsh: int, article_id: int, keys: Iterable[int]) -> None:
        """Take one article out of an index (it became a duplicate). Its band KEYS come from
        its stored signature, so the rows go by primary key, with no index on article_id
        (which would double the index's size on disk)."""
        self.conn.execute(
            delete(lsh_buckets).where(
                lsh_buckets.c.lsh == lsh,
                lsh_buckets.c.band_key.in_(sorted(set(keys))),
                lsh_buckets.c.article_id == article_id,
            )
        )

    def clear_index(self, lsh: int) -> None:
        """Empty one index, before it is built again."""
        self.conn.execute(delete(lsh_buckets).where(lsh_buckets.c.lsh == lsh))

    # -- stories -----------------------------------------------------------------------------

    def set_story_signature(self, article_id: int, signature: bytes, terms: bytes | None) -> None:
        self.conn.execute(
            update(articles)
            .where(articles.c.id == article_id)
            .values(story_signature=signature, story_terms=terms)
        )

    def merge_stories(
        self,
        survivor: int,
        absorbed: Iterable[int],
        *,
        reason: str,
        similarity: float | None,
        run_id: int | None,
    ) -> None:
        """Move the articles of ABSORBED stories to SURVIVOR and record each merge. An absorbed
        story keeps its row, pointing at the survivor, so its id still resolves."""
        absorbed = sorted(set(absorbed) - {survivor})
        if not absorbed:
            return
        try:
            self._merge(survivor, absorbed, reason=reason, similarity=similarity, run_id=run_id)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot merge stories in {self.display_url}: {exc}") from exc

    def _merge(
        self,
        survivor: int,
        absorbed: list[int],
        *,
        reason: str,
        similarity: float | None,
        run_id: int | None,
    ) -> None:
        now = utcnow()
        conn = self.conn
        conn.execute(
            update(articles).where(articles.c.story_id.in_(absorbed)).values(story_id=survivor)
        )
        # Earlier merges into an absorbed story now resolve to the survivor in one step.
        conn.execute(
            update(stories)
            .where(stories.c.id.in_(absorbed) | stories.c.merged_into.in_(absorbed))
            .values(merged_into=survivor)
        )
        conn.execute(
            insert(story_merges),
            [
                {
                    "absorbed_id": story,
                    "survivor_id": survivor,
                    "merged_at": now,
                    "run_id": run_id,
                    "similarity": similarity,
                    "reason": reason,
                }
                for story in absorbed
            ],
        )
        self.refresh_stories([survivor, *absorbed])

    def refresh_stories(self, ids: Iterable[int]) -> None:
        """Recompute the counts and dates of these stories from their articles."""
        ids = sorted(set(ids))
        if not ids:
            return
        try:
            self._refresh(ids)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot update stories in {self.display_url}: {exc}") from exc

    def _refresh(self, ids: list[int]) -> None:
        member = articles.alias("member")

        def of_story(column: Any) -> Any:
            return select(column).where(member.c.story_id == stories.c.id).scalar_subquery()

        self.conn.execute(
            update(stories)
            .where(stories.c.id.in_(ids))
            .values(
                article_count=of_story(func.count()),
                source_count=of_story(func.count(member.c.source.distinct())),
                first_seen=of_story(func.min(member.c.fetched_at)),
                last_seen=of_story(func.max(member.c.fetched_at)),
            )
        )

    # -- what the dedup audit changes -------------------------------------------------------

    def set_duplicate(
        self,
        article_id: int,
        duplicate_of: int | None,
        similarity: float | None,
        kind: str | None = None,
    ) -> None:
        """Change one article's dedup decision (the audit's --apply)."""
        self.conn.execute(
            update(articles)
            .where(articles.c.id == article_id)
            .values(duplicate_of=duplicate_of, similarity=similarity, duplicate_kind=kind)
        )

    # -- listings (sitemaps and feeds) ------------------------------------------------------

    def save_source(
        self, url: str, *, etag: str | None, last_modified: str | None, fetched_at: datetime
    ) -> None:
        values = {"etag": etag, "last_modified": last_modified, "fetched_at": fetched_at}
        changed = self.conn.execute(
            update(sources).where(sources.c.url == url).values(**values)
        ).rowcount
        if not changed:
            self.conn.execute(insert(sources).values(url=url, **values))

    def _insert_article(self, record: ArticleRecord, run_id: int | None) -> tuple[int, int]:
        conn = self.conn
        story_id = record.story_id
        new_story = story_id is None
        if story_id is None:
            story_pk = conn.execute(
                _INSERT_STORY, {"created_at": record.fetched_at}
            ).inserted_primary_key
            assert story_pk is not None
            story_id = int(story_pk[0])
        values = {name: getattr(record, name) for name in ARTICLE_COLUMNS}
        values.update(story_id=story_id, run_id=run_id)
        article_pk = conn.execute(_INSERT_ARTICLE, values).inserted_primary_key
        assert article_pk is not None
        article_id = int(article_pk[0])
        # Both indexes in one executemany: the article's bucket rows are most of its writes.
        self._insert_buckets(
            [(DEDUP_LSH, key) for key in set(record.dedup_bands)]
            + [(STORY_LSH, key) for key in set(record.story_bands)],
            article_id,
        )
        if new_story:
            conn.execute(_SET_CANONICAL, {"story": story_id, "article": article_id})
        self._add_story_terms(record, story_id)
        return article_id, story_id

    def _add_story_terms(self, record: ArticleRecord, story_id: int) -> None:
        """A canonical article's terms counted, and its story's new centroid."""
        if record.story_term_keys:
            self.count_terms(record.story_term_keys)
        if record.story_centroid is not None:
            self.set_centroid(story_id, record.story_centroid)

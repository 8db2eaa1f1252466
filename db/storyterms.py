"""What story decisions keep in the store beside the articles: each story's centroid and
the document frequency of every story term (the vectors themselves are
pipelines/storyvectors.py's; here they are bytes and integer keys)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from db.base import STORY_LSH, StoreBase, articles, lsh_buckets, news_meta, stories, term_counts

# The row of term_counts that counts the articles themselves.
DOCUMENTS_KEY = 0

_COUNTS = select(term_counts.c.term, term_counts.c.articles).where(
    term_counts.c.term.in_(bindparam("keys", expanding=True))
)
_CENTROIDS = select(stories.c.id, stories.c.centroid).where(
    stories.c.id.in_(bindparam("ids", expanding=True))
)
_SET_CENTROID = (
    update(stories).where(stories.c.id == bindparam("story")).values(centroid=bindparam("blob"))
)


@functools.lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(term_counts).values(
        term=bindparam("term"), articles=bindparam("delta")
    )
    return statement.on_conflict_do_update(
        index_elements=[term_counts.c.term],
        set_={"articles": term_counts.c.articles + statement.excluded.articles},
    )


class StoryTerms(StoreBase):
    """Reads and writes of centroids and term counts, in the store's open transaction."""

    def term_counts(self, keys: Iterable[int]) -> dict[int, int]:
        """How many canonical articles have each of these term KEYS (absent: none), and
        under DOCUMENTS_KEY how many articles were counted."""
        wanted = sorted({*keys, DOCUMENTS_KEY})
        rows = self.conn.execute(_COUNTS, {"keys": wanted}).all()
        return {int(term): int(count) for term, count in rows}

    def count_terms(self, keys: Iterable[int], delta: int = 1) -> None:
        """One more (DELTA more) article with each of these term KEYS."""
        wanted = sorted({*keys, DOCUMENTS_KEY})  # in order: two writers never cross
        statement = _upsert(self.conn.dialect.name)
        self.conn.execute(statement, [{"term": key, "delta": delta} for key in wanted])

    def centroids(self, story_ids: Iterable[int]) -> dict[int, bytes | None]:
        ids = sorted(set(story_ids))
        if not ids:
            return {}
        return {int(sid): blob for sid, blob in self.conn.execute(_CENTROIDS, {"ids": ids}).all()}

    def set_centroid(self, story_id: int, blob: bytes | None) -> None:
        self.conn.execute(_SET_CENTROID, {"story": story_id, "blob": blob})

    def set_centroids(self, blobs: Mapping[int, bytes]) -> None:
        if blobs:
            self.conn.execute(
                _SET_CENTROID, [{"story": sid, "blob": blob} for sid, blob in blobs.items()]
            )

    def forget_story_terms(self, meta_keys: Iterable[str]) -> None:
        """Drop every story signature, vector, centroid, term count and story band, and
        these news_meta keys, so the stories stage signs the store again (its stories and
        their members stay)."""
        conn = self.conn
        conn.execute(update(articles).values(story_signature=None, story_terms=None))
        conn.execute(update(stories).values(centroid=None))
        conn.execute(delete(term_counts))
        conn.execute(delete(lsh_buckets).where(lsh_buckets.c.lsh == STORY_LSH))
        conn.execute(delete(news_meta).where(news_meta.c.key.in_(list(meta_keys))))

"""What story decisions keep in the store beside the articles: each story's centroid and
the document frequency of every story term (the vectors themselves are
pipelines/storyvectors.py's; here they are bytes and integer keys)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import BigInteger, Integer, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from db.base import STORY_LSH, StoreBase, articles, lsh_buckets, news_meta, stories, term_counts
from db.records import DOCUMENTS_KEY

# Look-ups take a fixed number of parameters, padded up to a multiple of this with a key
# already asked for: an expanding IN is rendered anew on every call, and a statement per
# exact count would compile hundreds of shapes (db/lookups.py does the same for buckets).
_PAD = 32


@functools.lru_cache(maxsize=64)
def _counts(size: int) -> Any:
    keys: list[Any] = [bindparam(f"k{i}", type_=BigInteger) for i in range(size)]
    return select(term_counts.c.term, term_counts.c.articles).where(term_counts.c.term.in_(keys))


@functools.lru_cache(maxsize=64)
def _centroids(size: int) -> Any:
    keys: list[Any] = [bindparam(f"k{i}", type_=Integer) for i in range(size)]
    return select(stories.c.id, stories.c.centroid).where(stories.c.id.in_(keys))


def _padded(values: list[int]) -> tuple[int, dict[str, int]]:
    size = -(-len(values) // _PAD) * _PAD
    padded = values + [values[0]] * (size - len(values))
    return size, {f"k{i}": value for i, value in enumerate(padded)}


# Term counts kept for the open transaction at most (about 8 MB).
_KNOWN_COUNTS = 100_000

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

    # Term counts read in the open transaction, and the transaction. No other writer can
    # change them before it ends (SQLite's write lock; on PostgreSQL, the decision lock
    # that every crawl takes before it reads them), so an article's look-up reads from the
    # database only the keys that no earlier article of the batch asked for.
    _known_counts: dict[int, int] | None = None
    _known_in: object = None

    def _counts_known(self) -> dict[int, int]:
        transaction = self.conn.get_transaction()
        if self._known_counts is None or self._known_in is not transaction:
            self._known_counts, self._known_in = {}, transaction
        elif len(self._known_counts) > _KNOWN_COUNTS:
            self._known_counts.clear()
        return self._known_counts

    def term_counts(self, keys: Iterable[int]) -> dict[int, int]:
        """How many canonical articles have each of these term KEYS (absent: none), and
        under DOCUMENTS_KEY how many articles were counted."""
        wanted = {*keys, DOCUMENTS_KEY}
        known = self._counts_known()
        missing = sorted(wanted - known.keys())
        if missing:
            size, params = _padded(missing)
            found = {int(term): int(count) for term, count in self._fetch(_counts(size), params)}
            known = self._counts_known()  # the read may have begun the transaction
            known.update((key, found.get(key, 0)) for key in missing)
        return {key: count for key in wanted if (count := known[key])}

    def count_terms(self, keys: Iterable[int], delta: int = 1) -> None:
        """One more (DELTA more) article with each of these term KEYS."""
        wanted = sorted({*keys, DOCUMENTS_KEY})  # in order: two writers never cross
        statement = _upsert(self.conn.dialect.name)
        self._execute_many(statement, [{"term": key, "delta": delta} for key in wanted])
        known = self._counts_known()
        for key in wanted:
            if key in known:
                known[key] += delta

    def centroids(self, story_ids: Iterable[int]) -> dict[int, bytes | None]:
        ids = sorted(set(story_ids))
        if not ids:
            return {}
        size, params = _padded(ids)
        return {int(sid): blob for sid, blob in self._fetch(_centroids(size), params)}

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
        self._known_counts = None
        conn.execute(update(articles).values(story_signature=None, story_terms=None))
        conn.execute(update(stories).values(centroid=None))
        conn.execute(delete(term_counts))
        conn.execute(delete(lsh_buckets).where(lsh_buckets.c.lsh == STORY_LSH))
        conn.execute(delete(news_meta).where(news_meta.c.key.in_(list(meta_keys))))

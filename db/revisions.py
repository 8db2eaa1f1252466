"""Revisions: an article fetched again whose text changed keeps its id and row; every text
it has had goes into ``article_versions``."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from db.base import DEDUP_LSH, STORY_LSH, StoreError, article_versions, articles
from db.records import ArticleRecord, StoredArticle
from db.writes import Writes

# What a revision rewrites of the article's row: its text and what is derived from it.
# The URL, the source and the run that first stored it stay.
REVISED_COLUMNS = (
    "fetched_at",
    "text",
    "content_hash",
    "signature",
    "title",
    "author",
    "site_name",
    "published_at",
    "language",
    "duplicate_of",
    "similarity",
    "duplicate_kind",
    "canonical_url",
    "story_id",
    "story_signature",
    "story_terms",
    "story_similarity",
    "story_evidence",
)


class Revisions(Writes):
    """Writes and reads of article revisions, in the store's open transaction."""

    def revise_article(
        self,
        record: ArticleRecord,
        previous: StoredArticle,
        *,
        run_id: int | None,
        old_dedup_keys: Iterable[int],
        old_story_keys: Iterable[int],
        max_versions: int = 0,
        figures_only: bool = False,
    ) -> int:
        """Put RECORD's text in PREVIOUS's row and the history; return the version number.

        The article leaves the LSH indexes by its old band keys and, canonical still,
        enters them by its new ones (RECORD's). MAX_VERSIONS (0: all) keeps the newest.
        FIGURES_ONLY: only figures changed; such a change following another one replaces
        it in the history, so a counter never grows it."""
        try:
            conn = self.conn
            latest, change = self.latest_version(previous.id)
            if latest == 0:
                # The first text is saved with the first revision (version 1).
                first = ArticleRecord(
                    url=record.url,
                    fetched_at=previous.fetched_at,
                    text=previous.text,
                    content_hash=previous.content_hash,
                    title=previous.title,
                    duplicate_of=previous.duplicate_of,
                    story_id=previous.story_id,
                )
                self._add_version(previous.id, 1, first, None, "first")
                latest, change = 1, "first"
            if figures_only and change == "figures":
                version = latest
                conn.execute(
                    delete(article_versions).where(
                        article_versions.c.article_id == previous.id,
                        article_versions.c.version == version,
                    )
                )
            else:
                version = latest + 1
            self._add_version(
                previous.id, version, record, run_id, "figures" if figures_only else "text"
            )
            if max_versions:
                conn.execute(
                    delete(article_versions).where(
                        article_versions.c.article_id == previous.id,
                        article_versions.c.version <= version - max_versions,
                    )
                )
            conn.execute(
                update(articles)
                .where(articles.c.id == previous.id)
                .values({name: getattr(record, name) for name in REVISED_COLUMNS})
            )
            if previous.duplicate_of is None:
                self.delete_buckets(DEDUP_LSH, previous.id, old_dedup_keys)
                self.delete_buckets(STORY_LSH, previous.id, old_story_keys)
            if record.duplicate_of is None:
                self.add_buckets(DEDUP_LSH, previous.id, record.dedup_bands)
                self.add_buckets(STORY_LSH, previous.id, record.story_bands)
                if previous.duplicate_of is not None and record.story_term_keys:
                    # Its terms are counted once, when it is first canonical.
                    self.count_terms(record.story_term_keys)
            if record.story_centroid is not None:
                self.set_centroid(record.story_id or previous.story_id, record.story_centroid)
            return version
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot revise {record.url} in {self.display_url}: {exc}") from exc

    def _add_version(
        self,
        article_id: int,
        version: int,
        record: ArticleRecord,
        run_id: int | None,
        change: str,
    ) -> None:
        self.conn.execute(
            insert(article_versions).values(
                article_id=article_id,
                version=version,
                fetched_at=record.fetched_at,
                content_hash=record.content_hash,
                title=record.title,
                text=record.text,
                duplicate_of=record.duplicate_of,
                story_id=record.story_id,
                run_id=run_id,
                change=change,
            )
        )

    def latest_version(self, article_id: int) -> tuple[int, str | None]:
        """The article's newest version and its kind of change; (0, None) for none."""
        row = self.conn.execute(
            select(article_versions.c.version, article_versions.c.change)
            .where(article_versions.c.article_id == article_id)
            .order_by(article_versions.c.version.desc())
            .limit(1)
        ).first()
        return (0, None) if row is None else (int(row.version), str(row.change))

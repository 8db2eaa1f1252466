"""The store: migrations match the models, SQLite is set up for concurrent, safe writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from db.models import Article, Base
from db.records import ARTICLE_COLUMNS, ArticleRecord, utcnow
from db.store import Store


def test_migrations_build_exactly_the_models(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'news.db'}")
    store.open()
    try:
        # The FTS5 index and its shadow tables live beside the models, by design.
        context = MigrationContext.configure(
            store.conn,
            opts={
                "include_name": lambda name, _kind, _parent: (
                    not (name or "").startswith("articles_fts")
                )
            },
        )
        assert compare_metadata(context, Base.metadata) == []
        views = store.conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name"
        ).all()
        assert sorted(views) == [("articles_dedup",), ("stories_dedup",)]
    finally:
        store.close()


def test_sqlite_connection_settings(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sub' / 'news.db'}")
    store.open()
    try:
        pragma = store.conn.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 30000
    finally:
        store.close()


def test_reopening_a_current_store_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'news.db'}"
    for _ in range(2):
        store = Store(url)
        store.open()
        version = store.conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        store.close()
    assert version == [("0012",)]


def sample_record(**changes: Any) -> ArticleRecord:
    """A canonical article in both indexes (story band 13), with CHANGES."""
    fields: dict[str, Any] = {
        "url": "file:///a.txt",
        "text": "Un texte.",
        "content_hash": "ab" * 16,
        "signature": b"\x01\x00\x00\x00",
        "fetched_at": utcnow(),
        "story_signature": b"\x02\x00\x00\x00",
        "story_bands": (13,),
    }
    return ArticleRecord(**{**fields, **changes})


def test_lsh_buckets_are_written_with_the_article_and_leave_with_its_canonical_status(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'news.db'}")
    store.open()
    try:
        record = sample_record(dedup_bands=(11, -12))
        article_id, story_id = store.add_article(record, run_id=None)
        # Visible at once on the writer's connection, before any commit.
        found = store.dedup_candidates("file:///b.txt", "cd" * 16, [-12, 99])
        assert (found.url_stored, found.exact) == (False, None)
        [match] = found.near
        assert (match.id, match.story_id) == (article_id, story_id)
        [story_match] = store.story_matches([13])
        assert (story_match.id, story_match.story_id) == (article_id, story_id)
        # The indexes are kept apart.
        assert store.dedup_candidates("file:///b.txt", "cd" * 16, [13]).near == []
        # The URL and the exact text are found in the same look-up, and with no keys at all.
        for keys in ([13], []):
            found = store.dedup_candidates("file:///a.txt", "ab" * 16, keys)
            assert found.url_stored and found.exact is not None
            assert (found.exact.id, found.near) == (article_id, [])
        store.delete_buckets(1, article_id, [11, -12])
        store.delete_buckets(2, article_id, [13])
        assert store.dedup_candidates("file:///b.txt", "cd" * 16, [11, -12]).near == []
        assert store.story_matches([13]) == []
        assert store.story_matches([]) == []
    finally:
        store.close()


def test_sqlite_reads_are_memory_mapped_as_asked(tmp_path):
    for asked, expected in ((16 * 1024 * 1024, 16 * 1024 * 1024), (0, 0)):
        store = Store(f"sqlite:///{tmp_path / 'news.db'}", mmap_bytes=asked)
        store.open()
        try:
            mapped = store.conn.exec_driver_sql("PRAGMA mmap_size").scalar()
            assert mapped == expected
        finally:
            store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'news.db'}"
    return request.getfixturevalue("postgres_url")


def test_per_article_statements_run_in_the_batch_and_fail_as_sqlalchemy_errors(store_url):
    """Dedup's and stories' look-ups and the bucket rows run on the driver's cursor: in the
    connection's transaction, with the columns' types, and with SQLAlchemy's exceptions."""
    store = Store(store_url)
    store.open()
    published = datetime(2026, 10, 1, 8, 30)
    record = sample_record(published_at=published, dedup_bands=(11,))
    try:
        article_id, story_id = store.add_article(record, run_id=None)
        [match] = store.story_matches([13])
        assert (match.id, match.story_id, match.date) == (article_id, story_id, published)
        [near] = store.dedup_candidates("file:///b.txt", "cd" * 16, [11]).near
        assert (near.content_hash, near.signature) == (record.content_hash, record.signature)
        with pytest.raises(IntegrityError):
            store.add_buckets(1, article_id, [11])  # already in the index
        store.rollback()
        # The rollback took the article's bucket rows with it: they were in its transaction.
        assert store.story_matches([13]) == []
        assert store.dedup_candidates("file:///b.txt", "cd" * 16, [11]).near == []
        # The next batch begins a new transaction, on the driver's side too.
        article_id, _ = store.add_article(record, run_id=None)
        store.commit()
    finally:
        store.close()
    store = Store(store_url)
    store.open()
    try:
        assert [m.id for m in store.story_matches([13])] == [article_id]
        assert [m.id for m in store.dedup_candidates("file:///b.txt", "cd" * 16, [11]).near] == [
            article_id
        ]
    finally:
        store.close()


def test_the_article_record_declares_exactly_the_stored_columns():
    """ArticleRecord is the one list of an article's fields: storage writes those columns,
    and every column of ``articles`` but the keys the store assigns is one of them."""
    assigned = {"id", "run_id"}
    assert set(ARTICLE_COLUMNS) == {c.name for c in Article.__table__.columns} - assigned


def test_a_revised_articles_history_keeps_the_newest_max_versions(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'news.db'}")
    store.open()
    try:
        first = ArticleRecord(
            url="https://example.org/live",
            fetched_at=datetime(2026, 10, 1, 8),
            text="Live: the count begins.",
            content_hash="h0",
            signature=b"",
        )
        article_id, _story = store.add_article(first, run_id=None)
        store.commit()
        for number in range(1, 5):
            previous = store.stored_article(first.url)
            assert previous is not None
            revised = ArticleRecord(
                url=first.url,
                fetched_at=datetime(2026, 10, 1, 8 + number),
                text=f"Live: entry {number} is in.",
                content_hash=f"h{number}",
                signature=b"",
                story_id=previous.story_id,
            )
            version = store.revise_article(
                revised,
                previous,
                run_id=None,
                old_dedup_keys=(),
                old_story_keys=(),
                max_versions=3,
            )
            assert version == number + 1
        store.commit()
        kept = store.conn.exec_driver_sql(
            "SELECT version, text FROM article_versions WHERE article_id = ? ORDER BY version",
            (article_id,),
        ).all()
        assert [tuple(row) for row in kept] == [
            (3, "Live: entry 2 is in."),
            (4, "Live: entry 3 is in."),
            (5, "Live: entry 4 is in."),
        ]
        # The article's row holds the latest text, under its first id.
        assert store.article_texts([article_id]) == {article_id: "Live: entry 4 is in."}
    finally:
        store.close()


def test_term_counts_and_centroids_are_kept_with_the_article(store_url):
    """A canonical article's term keys are counted (key 0 counts the articles) and its
    story's centroid written, in the article's transaction; a rollback takes both back."""
    store = Store(store_url)
    store.open()
    try:
        first, first_story = store.add_article(
            sample_record(story_term_keys=(7, 2**32 - 1), story_centroid=b"c1"), run_id=None
        )
        store.commit()
        assert store.term_counts([7, 2**32 - 1, 99]) == {0: 1, 7: 1, 2**32 - 1: 1}
        assert store.centroids([first_story]) == {first_story: b"c1"}
        store.add_article(
            sample_record(
                url="file:///b.txt",
                content_hash="cd" * 16,
                story_id=first_story,
                story_term_keys=(7,),
                story_centroid=b"c2",
            ),
            run_id=None,
        )
        assert store.term_counts([7]) == {0: 2, 7: 2}
        assert store.centroids([first_story]) == {first_story: b"c2"}
        store.rollback()
        assert store.term_counts([7]) == {0: 1, 7: 1}
        assert store.centroids([first_story, 12345]) == {first_story: b"c1"}
        # Signing again starts from nothing but keeps the stories and their articles.
        store.forget_story_terms(["story_minhash"])
        assert store.term_counts([7]) == {}
        assert store.centroids([first_story]) == {first_story: None}
        assert store.story_matches([13]) == []
        assert store.missing_story_signatures()[0][0] == first
    finally:
        store.close()


def test_term_counts_read_in_a_transaction_follow_its_writes_and_end_with_it(store_url):
    """The counts a transaction has read are kept for it: its own writes move them, and
    the next transaction reads what other writers committed meanwhile."""
    with opened(store_url) as store, opened(store_url) as other:
        assert store.term_counts([5, 6]) == {}
        store.count_terms([5])
        assert store.term_counts([5, 6]) == {0: 1, 5: 1}  # 5 was known (as 0), 6 still is
        store.count_terms([5, 6], delta=2)
        assert store.term_counts([5, 6]) == {0: 3, 5: 3, 6: 2}
        store.rollback()
        assert store.term_counts([5, 6]) == {}
        store.commit()
        other.count_terms([6])
        other.commit()
        assert store.term_counts([5, 6]) == {0: 1, 6: 1}


def test_a_batch_moves_a_warc_files_progress_only_forward(store_url):
    """The storage stage writes a batch's WARC progress at its commit; by then the source
    may have written a later offset (a dropped document's record) or finished the file, and
    the batch's offset must undo neither."""
    at = datetime(2026, 11, 30, 10, 0)
    with opened(store_url) as store:
        store.advance_warc_progress("a.warc.gz", size=900, offset=100, at=at)  # first: inserted
        store.advance_warc_progress("a.warc.gz", size=900, offset=300, at=at)
        store.save_warc_progress("a.warc.gz", size=900, offset=500, at=at, finished=False)
        store.advance_warc_progress("a.warc.gz", size=900, offset=400, at=at)  # behind: kept
        progress = store.warc_progress("a.warc.gz")
        assert progress is not None
        assert (progress.offset, progress.finished_at) == (500, None)
        store.save_warc_progress("a.warc.gz", size=900, offset=900, at=at, finished=True)
        store.advance_warc_progress("a.warc.gz", size=900, offset=950, at=at)  # finished: kept
        store.commit()
    with opened(store_url) as store:
        progress = store.warc_progress("a.warc.gz")
        assert progress is not None
        assert (progress.size, progress.offset, progress.finished_at) == (900, 900, at)


@contextmanager
def opened(url: str) -> Iterator[Store]:
    store = Store(url)
    store.open()
    try:
        yield store
    finally:
        store.close()

"""The same crawl into PostgreSQL: the store works with any SQLAlchemy URL, not just SQLite."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.conftest import SAMPLE, run_scrapy


def test_crawl_into_postgres(tmp_path, postgres_url):
    args = ["crawl", "files", "-a", f"path={SAMPLE}"]
    first = run_scrapy(args, tmp_path / "unused.db", f"NEWS_DATABASE_URL={postgres_url}")
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_scrapy(args, tmp_path / "unused.db", f"NEWS_DATABASE_URL={postgres_url}")
    assert second.returncode == 0, second.stderr[-3000:]
    assert not (tmp_path / "unused.db").exists()

    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        articles = conn.execute(text("SELECT COUNT(*) FROM articles")).scalar_one()
        canonical = conn.execute(text("SELECT COUNT(*) FROM articles_dedup")).scalar_one()
        runs = conn.execute(
            text("SELECT status, items_new, items_already_stored FROM crawl_runs ORDER BY id")
        ).all()
    engine.dispose()
    documents = len(list(SAMPLE.rglob("*.txt"))) + len(list(SAMPLE.rglob("*.html")))
    assert articles == documents
    assert canonical == len(list(SAMPLE.glob("*.txt")))
    assert [tuple(run) for run in runs] == [
        ("finished", canonical, 0),
        ("finished", 0, documents),
    ]


def test_the_ledger_of_urls_not_stored_on_postgres(postgres_url):
    """The news spider's one look-up per listed URL, and the ledger's writes, on PostgreSQL."""
    from datetime import datetime

    from db.store import Store

    store = Store(postgres_url)
    store.open()
    try:
        assert store.url_state("https://example.org/a") == (None, None)
        store.note_unstored("https://example.org/a", "http_503", datetime(2026, 10, 1), None)
        store.note_unstored(
            "https://example.org/a", "http_503", datetime(2026, 10, 2), datetime(2026, 9, 30)
        )
        store.commit()
        stored_at, entry = store.url_state("https://example.org/a")
        assert stored_at is None and entry is not None
        assert (entry.reason, entry.attempts) == ("http_503", 2)
        assert (entry.first_attempt, entry.last_attempt) == (
            datetime(2026, 10, 1),
            datetime(2026, 10, 2),
        )
        assert entry.listed_at == datetime(2026, 9, 30)
        assert store.unstored_counts() == {"http_503": 1}
        store.forget_unstored("https://example.org/a")
        store.commit()
        assert store.url_state("https://example.org/a") == (None, None)
    finally:
        store.close()

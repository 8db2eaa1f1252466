"""The same crawl into PostgreSQL: the store works with any SQLAlchemy URL, not just SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.conftest import SAMPLE, run_scrapy

SERVER_URL = os.environ.get(
    "NEWSDEDUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own for the test, dropped afterwards."""
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"newsdedup_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("NEWSDEDUP_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL not reachable at {SERVER_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {SERVER_URL}")
    try:
        yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


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

"""The store: migrations match the models, SQLite is set up for concurrent, safe writes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from db import Base, Store


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
    assert version == [("0004",)]

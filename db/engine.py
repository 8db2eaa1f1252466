"""Engine creation: SQLite gets WAL, a busy timeout, foreign keys and real transactions."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)


def sqlite_files(url: str) -> list[Path]:
    """The files of a SQLite store (the database, its WAL and shared-memory files); none for
    another database or an in-memory one."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return []
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
    return [Path(database + suffix) for suffix in ("", "-wal", "-shm", "-journal")]


def make_engine(
    url: str, *, writer: bool = True, busy_timeout_ms: int = 30_000, mmap_bytes: int = 0
) -> Engine:
    """Create an engine for any SQLAlchemy URL; for file-backed SQLite, create the folder too.

    ``writer=False`` suits read-only tools: their transactions never take the write lock.
    ``mmap_bytes`` maps up to that much of a SQLite file for reads (SQLite's mmap_size).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _postgresql_engine(url, writer)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url)

    database = parsed.database
    if writer and database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN, SAVEPOINT and
        # DDL behave as written (the recipe from SQLAlchemy's pysqlite notes).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if writer and database and database != ":memory:":
            # A reader leaves the journal mode to the writers: setting it needs write access,
            # and a read-only store (a file it may not write, or a mode=ro URL) must still
            # be readable.
            [mode] = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode != "wal":
                # Another connection held the file when we asked; readers will block writes.
                logger.warning("SQLite store %s stays in %s journal mode, not WAL", database, mode)
            # With WAL, NORMAL loses no committed transaction on a process crash.
            cursor.execute("PRAGMA synchronous = NORMAL")
            if mmap_bytes:
                # Dedup and story look-ups read a few pages at random all over the bucket
                # index; mapped, each costs no read() call and no copy into the page cache.
                cursor.execute(f"PRAGMA mmap_size = {int(mmap_bytes)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads, then
        # writes after another process committed, fails at once instead of waiting.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def _postgresql_engine(url: str, writer: bool) -> Engine:
    engine = create_engine(url)
    if not writer:
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # A shared store commits each article alone (db.base.StoreBase.lock_decisions), and
        # a commit that waits for its WAL flush costs a disk sync: tens of milliseconds on
        # common disks, inside the decision lock. Off, a commit returns at once; a crash of
        # the database server (not of a crawl) can lose the last fraction of a second of
        # commits, never leave them half written: their articles are fetched again by the
        # next run. The same trade as SQLite's synchronous=NORMAL above.
        cursor = dbapi_connection.cursor()
        cursor.execute("SET synchronous_commit = off")
        # The driver prepares the look-ups on the server, and PostgreSQL may keep one generic
        # plan for each, made while the store was small, that reads a whole LSH index per
        # look-up: slower with every article stored. A plan made at each call sees the
        # tables' current size (and the band keys) and stays an index probe, for a fraction
        # of a millisecond of planning.
        cursor.execute("SET plan_cache_mode = force_custom_plan")
        cursor.close()
        dbapi_connection.commit()

    return engine

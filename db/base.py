"""The store's connection: transactions, statements run on the driver's cursor, store facts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, text, update
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from db.models import (
    Article,
    ArticleVersion,
    CrawlRun,
    LshBucket,
    Meta,
    Source,
    Story,
    StoryMerge,
    TermCount,
    UnstoredUrl,
    WarcFile,
)

# Core tables for the bulk paths; the ORM classes stay the schema's single definition.
articles = cast(Table, Article.__table__)
stories = cast(Table, Story.__table__)
crawl_runs = cast(Table, CrawlRun.__table__)
news_meta = cast(Table, Meta.__table__)
sources = cast(Table, Source.__table__)
story_merges = cast(Table, StoryMerge.__table__)
lsh_buckets = cast(Table, LshBucket.__table__)
unstored_urls = cast(Table, UnstoredUrl.__table__)
article_versions = cast(Table, ArticleVersion.__table__)
warc_files = cast(Table, WarcFile.__table__)
term_counts = cast(Table, TermCount.__table__)

# PostgreSQL advisory lock keys (one 64-bit space per database; "news" in the high bits).
DECISIONS_LOCK = 0x6E657773_00000001
MIGRATIONS_LOCK = 0x6E657773_00000002

# The LSH indexes in lsh_buckets.
DEDUP_LSH = 1
STORY_LSH = 2


class _DriverStatement:
    """A statement compiled once for a dialect, to run on the DBAPI cursor.

    For the statements every article runs (dedup's and stories' look-ups, the bucket rows):
    with a crawl's other work between two articles, SQLAlchemy's Python path of ``execute``
    runs from cold CPU caches and costs more than SQLite's own work: 0.41 ms a dedup look-up
    through ``Connection.execute``, 0.23 ms on the cursor (benchmarks/machinery.py).
    Parameters go to the driver as they are, so they must need no conversion; result
    columns get their type's own."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        for name, bind in compiled.binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"parameter {name} needs conversion: use Connection.execute")
        # Values fixed when the statement was built (literals, the index's number).
        self.fixed = {k: v for k, v in compiled.params.items() if v is not None}
        self.order = tuple(compiled.positiontup or ()) if compiled.positional else None
        # Positional values in one C call: a term-count upsert runs this for 49 rows.
        self._pick = itemgetter(*self.order) if self.order and len(self.order) > 1 else None
        columns = getattr(statement, "selected_columns", ())
        self.converters = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]

    def parameters(self, params: Mapping[str, Any]) -> Any:
        merged = {**self.fixed, **params} if self.fixed else params
        if self.order is None:
            return merged
        if self._pick is not None:
            return self._pick(merged)
        return tuple(merged[name] for name in self.order)

    def convert(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        if not any(self.converters):
            return rows
        return [
            tuple(v if c is None else c(v) for c, v in zip(self.converters, row, strict=True))
            for row in rows
        ]


class StoreError(Exception):
    """The store cannot be opened, migrated or written; the message says which and why."""


class StoreBase:
    """One connection to the database behind a SQLAlchemy URL.

    Writes go into one open transaction until :meth:`commit`; reads run on the same
    connection, so they see the rows of the batch that is not committed yet. The store's
    concerns are mixed into :class:`db.store.Store` from modules of their own.
    """

    def __init__(self, url: str, *, writer: bool = True, mmap_bytes: int = 0) -> None:
        self.url = url
        self.writer = writer
        self.mmap_bytes = mmap_bytes
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._driver_statements: dict[Any, _DriverStatement] = {}
        self._cursor: Any = None
        self._shared = make_url(url).get_backend_name() == "postgresql"

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for logs and summaries."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise StoreError("the store is not open")
        return self._conn

    def commit(self) -> None:
        try:
            self.conn.commit()
        except SQLAlchemyError as exc:
            raise StoreError(f"commit to {self.display_url} failed: {exc}") from exc

    def rollback(self) -> None:
        self.conn.rollback()

    # -- many writers ------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """Whether several runs may write the store at once. PostgreSQL, yes; a SQLite file
        has one writer, and its runs take turns (db.runs)."""
        return self._shared

    def lock_decisions(self) -> None:
        """On a shared store, hold the store's decision lock until this transaction ends.

        Whether an article is new, a copy or a revision, and which story it joins, is read
        from the store and then written to it. Two runs deciding at once could each miss
        the other's uncommitted article and both store a canonical. Every run takes this
        lock before its first read of an article's decision and commits after its last
        write, so decisions follow one another: the store ends as some one-at-a-time order
        of the same articles would have left it. Fetching and extraction, nearly all of an
        article's time, stay parallel (docs/fleet.md has the cost). Re-taking it within the
        transaction costs one round trip and nothing else."""
        if self.shared:
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DECISIONS_LOCK})

    def analyze(self) -> None:
        """Have PostgreSQL's planner statistics of the look-ups' tables made anew.

        The look-ups probe ``lsh_buckets`` by band key and then ``articles`` by id. With no
        statistics (a new store, or a server where autovacuum is off) the planner takes the
        tables for nearly empty and probes the index once per article instead, which costs
        a look-up a scan of the whole index: a crawl slows as the store grows. ANALYZE reads
        a sample, takes no lock that writers wait on, and is cheap next to that."""
        if not self.shared:
            return
        try:
            self.conn.execute(text("ANALYZE articles, lsh_buckets, stories"))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot analyze {self.display_url}: {exc}") from exc

    def lacks_statistics(self) -> bool:
        """Whether the articles table has rows but PostgreSQL never analyzed it."""
        if not self.shared:
            return False
        try:
            row = self.conn.execute(
                text(
                    "SELECT n_live_tup > 0 AND last_analyze IS NULL AND last_autoanalyze IS NULL "
                    "FROM pg_stat_user_tables WHERE relname = 'articles'"
                )
            ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read {self.display_url}'s statistics: {exc}") from exc
        return bool(row and row[0])

    @contextmanager
    def decisions_held(self) -> Iterator[None]:
        """The decision lock across several transactions (a stage's setup, which commits
        as it goes); nothing on a store with one writer."""
        if not self.shared:
            yield
            return
        self.conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": DECISIONS_LOCK})
        try:
            yield
        finally:
            self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": DECISIONS_LOCK})
            self.conn.commit()

    def _driver(self, statement: Any) -> tuple[_DriverStatement, Any]:
        """STATEMENT's compiled form, and a DBAPI cursor inside the connection's transaction
        (begun here if it is not yet, as ``execute`` would)."""
        conn = self.conn
        compiled = self._driver_statements.get(statement)
        if compiled is None:
            compiled = self._driver_statements[statement] = _DriverStatement(
                statement, conn.dialect
            )
        if not conn.in_transaction():
            conn.begin()
            self._cursor = None  # the DBAPI connection may have been replaced
        if self._cursor is None:
            self._cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return compiled, self._cursor

    def _fetch(self, statement: Any, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of STATEMENT, run on the DBAPI cursor (see _DriverStatement)."""
        compiled, cursor = self._driver(statement)
        parameters = compiled.parameters(params)
        try:
            cursor.execute(compiled.sql, parameters)
            return compiled.convert(cursor.fetchall())
        except self._dbapi_error as exc:
            raise self._wrapped(compiled, parameters, exc) from exc

    def _execute_many(self, statement: Any, rows: list[Mapping[str, Any]]) -> None:
        compiled, cursor = self._driver(statement)
        parameters = [compiled.parameters(row) for row in rows]
        try:
            cursor.executemany(compiled.sql, parameters)
        except self._dbapi_error as exc:
            raise self._wrapped(compiled, parameters, exc) from exc

    @property
    def _dbapi_error(self) -> type[Exception]:
        return cast("type[Exception]", self.conn.dialect.loaded_dbapi.Error)

    def _wrapped(self, compiled: _DriverStatement, parameters: Any, exc: Exception) -> Exception:
        """The driver's error as SQLAlchemy raises it (OperationalError, IntegrityError…),
        so that callers handle it as they handle every other statement's."""
        return DBAPIError.instance(
            compiled.sql, parameters, exc, self._dbapi_error, dialect=self.conn.dialect
        )

    # -- store facts -------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        return self.conn.execute(
            select(news_meta.c.value).where(news_meta.c.key == key)
        ).scalar_one_or_none()

    def set_meta(self, key: str, value: str) -> None:
        changed = self.conn.execute(
            update(news_meta).where(news_meta.c.key == key).values(value=value)
        ).rowcount
        if not changed:
            self.conn.execute(insert(news_meta).values(key=key, value=value))

"""Full-text search over stored articles (SQLite FTS5, kept in step by triggers)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from db.base import StoreError
from db.store import Store


class QueryError(ValueError):
    """The search query is not valid FTS5 syntax."""


@dataclass(frozen=True)
class Hit:
    id: int
    title: str | None
    url: str
    duplicate_of: int | None
    snippet: str
    score: float


SEARCH_SQL = text(
    """
    SELECT a.id, a.title, a.url, a.duplicate_of,
           snippet(articles_fts, 1, '[', ']', '…', 16) AS snippet,
           bm25(articles_fts, 5.0, 1.0) AS score
    FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
    WHERE articles_fts MATCH :query
    ORDER BY score
    LIMIT :limit
    """
)


def literal(text: str) -> str:
    """TEXT as an FTS5 phrase: its words in order, whatever operators or quotes it holds."""
    return '"' + text.replace('"', '""') + '"'


def search(store: Store, query: str, *, limit: int = 10) -> list[Hit]:
    """Best matches first (title words weigh five times body words). QUERY is FTS5 syntax,
    bound as a parameter; see literal() for plain text."""
    if store.conn.dialect.name != "sqlite":
        raise StoreError("full-text search needs a SQLite store (FTS5)")
    try:
        rows = store.conn.execute(SEARCH_SQL, {"query": query, "limit": limit}).all()
    except OperationalError as exc:
        message = str(exc.orig) if exc.orig is not None else str(exc)
        if "no such table" in message or "locked" in message or "unable to open" in message:
            raise StoreError(f"search failed on {store.display_url}: {message}") from exc
        # Everything else SQLite says about a MATCH is about the query's syntax.
        raise QueryError(f"malformed search query {query!r}: {message}") from exc
    return [
        Hit(
            id=row.id,
            title=row.title,
            url=row.url,
            duplicate_of=row.duplicate_of,
            snippet=row.snippet,
            score=float(row.score),
        )
        for row in rows
    ]

"""The ``urls`` table: article URLs seen and not stored, with why and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    union_all,
    update,
)

from db.base import StoreBase, articles, unstored_urls
from db.records import UnstoredEntry

# When a URL's article was fetched, and its ledger row, in one statement: the news spider asks it of
# every URL a listing gives.
_URL_STATE = union_all(
    select(
        literal_column("0").label("stored"),
        unstored_urls.c.reason,
        unstored_urls.c.attempts,
        unstored_urls.c.first_attempt,
        unstored_urls.c.last_attempt,
        unstored_urls.c.listed_at,
    ).where(unstored_urls.c.url == bindparam("url")),
    # A stored article's row: when it was fetched, in the last_attempt column.
    select(
        literal_column("1"),
        cast(null(), String),
        cast(null(), Integer),
        cast(null(), DateTime),
        articles.c.fetched_at,
        cast(null(), DateTime),
    ).where(articles.c.url == bindparam("url")),
)


class Unstored(StoreBase):
    """Reads and writes of the ledger of URLs that were not stored (crawler/revisits.py
    decides from it which of them are due again)."""

    def url_state(self, url: str) -> tuple[datetime | None, UnstoredEntry | None]:
        """When the article at URL was fetched (None: not stored), and URL's ledger row."""
        stored_at, entry = None, None
        for found, *row in self._fetch(_URL_STATE, {"url": url}):
            if found:
                stored_at = row[3]
            else:
                entry = UnstoredEntry(url, *row)
        return stored_at, entry

    def unstored(self, url: str) -> UnstoredEntry | None:
        row = self.conn.execute(select(unstored_urls).where(unstored_urls.c.url == url)).first()
        return None if row is None else UnstoredEntry(**row._mapping)

    def note_unstored(
        self, url: str, reason: str, at: datetime, listed_at: datetime | None
    ) -> None:
        """One more attempt at URL that ended with REASON (an update, then an insert: the
        crawl process is the store's only writer)."""
        values: dict[str, object] = {"reason": reason, "last_attempt": at}
        if listed_at is not None:
            values["listed_at"] = listed_at
        changed = self.conn.execute(
            update(unstored_urls)
            .where(unstored_urls.c.url == url)
            .values(attempts=unstored_urls.c.attempts + 1, **values)
        ).rowcount
        if not changed:
            self.conn.execute(
                insert(unstored_urls).values(
                    url=url,
                    reason=reason,
                    attempts=1,
                    first_attempt=at,
                    last_attempt=at,
                    listed_at=listed_at,
                )
            )

    def forget_unstored(self, url: str) -> None:
        self.conn.execute(delete(unstored_urls).where(unstored_urls.c.url == url))

    def unstored_counts(self) -> dict[str, int]:
        """How many URLs the ledger holds, by reason."""
        rows = self.conn.execute(
            select(unstored_urls.c.reason, func.count()).group_by(unstored_urls.c.reason)
        )
        return {reason: int(count) for reason, count in rows}

"""Streaming export of stored articles as JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import text

from db.store import Store

# The documented columns, in order (docs/schema.md). Signatures are not exported.
_ARTICLE_COLUMNS = (
    "id",
    "url",
    "source",
    "title",
    "author",
    "site_name",
    "text",
    "published_at",
    "language",
    "fetched_at",
)
DEDUP_COLUMNS = (
    *_ARTICLE_COLUMNS,
    "story_id",
    "run_id",
    "canonical_url",
    "duplicate_count",
    "syndications",
)
ALL_COLUMNS = (
    *_ARTICLE_COLUMNS,
    "content_hash",
    "duplicate_of",
    "duplicate_kind",
    "canonical_url",
    "similarity",
    "story_id",
    "run_id",
)
FORMATS = ("jsonl", "csv")


def rows(
    store: Store,
    *,
    all_articles: bool = False,
    since: datetime | None = None,
    run_id: int | None = None,
    chunk: int = 1000,
) -> tuple[tuple[str, ...], Iterator[dict[str, Any]]]:
    """The columns, and the rows streamed in id order (memory stays flat)."""
    columns = ALL_COLUMNS if all_articles else DEDUP_COLUMNS
    table = "articles" if all_articles else "articles_dedup"
    where: list[str] = []
    params: dict[str, Any] = {}
    if since is not None:
        where.append("fetched_at >= :since")
        params["since"] = since
    if run_id is not None:
        where.append("run_id = :run_id")
        params["run_id"] = run_id
    sql = f"SELECT {', '.join(columns)} FROM {table}"  # names from the constants above only
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"

    def stream() -> Iterator[dict[str, Any]]:
        result = store.conn.execution_options(stream_results=True, yield_per=chunk).execute(
            text(sql), params
        )
        for row in result:
            yield dict(row._mapping)

    return columns, stream()


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def write(
    out: TextIO, columns: tuple[str, ...], records: Iterator[dict[str, Any]], fmt: str
) -> int:
    """Write the records; return how many."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for record in records:
            writer.writerow([_plain(record[c]) for c in columns])
            count += 1
    else:
        for record in records:
            out.write(json.dumps({c: _plain(record[c]) for c in columns}, ensure_ascii=False))
            out.write("\n")
            count += 1
    return count

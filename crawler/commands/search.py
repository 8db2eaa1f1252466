"""`scrapy search QUERY`: full-text search over stored articles."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from scrapy.exceptions import UsageError

from crawler.cli import StoreCommand, count, shown, writes_output
from db.base import StoreError
from db.search import QueryError, literal, search


class Command(StoreCommand):
    def syntax(self) -> str:
        return "[options] QUERY"

    def short_desc(self) -> str:
        return "Search stored articles (SQLite FTS5 syntax), best matches first"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--limit", type=count, default=10, help="at most N results")
        parser.add_argument("--json", action="store_true", help="JSON Lines output")
        parser.add_argument(
            "--literal",
            action="store_true",
            help="search for the words of QUERY as a phrase, ignoring FTS5 operators",
        )

    @writes_output
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("give a search query")
        if opts.limit < 1:
            raise UsageError("--limit must be at least 1")
        store = self.open_store()
        if store is None:
            return
        try:
            query = " ".join(args)
            hits = search(store, literal(query) if opts.literal else query, limit=opts.limit)
        except (QueryError, StoreError) as exc:
            self.fail(str(exc), exitcode=2 if isinstance(exc, QueryError) else 1)
            return
        finally:
            store.close()
        for hit in hits:
            if opts.json:
                print(json.dumps(asdict(hit), ensure_ascii=False))
            else:
                marker = f" (duplicate of {hit.duplicate_of})" if hit.duplicate_of else ""
                print(f"{hit.id}  {shown(hit.title or '(no title)')}{marker}\n    {shown(hit.url)}")
                print(f"    {shown(' '.join(hit.snippet.split()))}")
        if not opts.json:
            print(f"{len(hits)} result{'s' if len(hits) != 1 else ''}")

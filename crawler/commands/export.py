"""`scrapy export`: deduplicated (or all) articles as JSON Lines or CSV, streamed."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from scrapy.exceptions import UsageError

from crawler.cli import StoreCommand
from db.export import FORMATS, rows, write


class Command(StoreCommand):
    def short_desc(self) -> str:
        return "Write articles_dedup (or --all articles) as JSON Lines or CSV"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--format", choices=FORMATS, default="jsonl", dest="fmt")
        parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")
        parser.add_argument("--since", metavar="ISO-DATE", help="fetched at or after this time")
        parser.add_argument("--run", type=int, metavar="ID", help="stored by this run only")
        parser.add_argument("--all", action="store_true", help="every article, duplicates too")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        since = None
        if opts.since:
            try:
                since = datetime.fromisoformat(opts.since)
            except ValueError as exc:
                raise UsageError(f"--since wants an ISO date, got {opts.since!r}") from exc
        store = self.open_store()
        if store is None:
            return
        try:
            columns, records = rows(store, all_articles=opts.all, since=since, run_id=opts.run)
            if opts.output:
                with Path(opts.output).open("w", encoding="utf-8", newline="") as out:
                    count = write(out, columns, records, opts.fmt)
                print(f"wrote {count} articles to {opts.output}", file=sys.stderr)
            else:
                write(sys.stdout, columns, records, opts.fmt)
                sys.stdout.flush()
        except BrokenPipeError:
            # `scrapy export | head`: the reader has all it wanted.
            sys.stderr.close()
        finally:
            store.close()

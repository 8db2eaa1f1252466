"""`scrapy crawl`, plus a one-line summary of the run and an exit code that says how it went."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

# Exit codes of `scrapy crawl` (2 is Scrapy's own for a usage error).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 3
EXIT_BUSY = 4


def summary_line(stats: dict[str, Any]) -> str:
    dropped = {
        key.removeprefix("news/dropped/"): value
        for key, value in sorted(stats.items())
        if key.startswith("news/dropped/")
    }
    dropped_text = ", ".join(f"{reason}: {count}" for reason, count in dropped.items())
    return (
        f"newsdedup: run {stats.get('news/run_id', '?')} {stats.get('news/run_status', 'failed')}"
        f" ({stats.get('finish_reason', 'unknown')}): "
        f"{stats.get('news/items/new', 0)} new, "
        f"{stats.get('news/items/exact', 0)} exact duplicates, "
        f"{stats.get('news/items/near', 0)} near duplicates, "
        f"{stats.get('news/items/already_stored', 0)} already stored, "
        f"{sum(dropped.values())} dropped" + (f" ({dropped_text})" if dropped else "") + ", "
        f"{stats.get('log_count/ERROR', 0)} errors; "
        f"store {stats.get('news/store/url', '?')} holds {stats.get('news/store/articles', '?')}"
        " articles"
    )


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return "Run a spider into the store and print a summary of the run"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)  # Scrapy's own usage errors
            return
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed or crawler.stats is None:
            self.exitcode = EXIT_FAILED
            return
        stats = crawler.stats.get_stats()
        status = stats.get("news/run_status")
        print(summary_line(stats), file=sys.stdout, flush=True)
        if status == "finished":
            self.exitcode = EXIT_OK
        elif status == "interrupted":
            self.exitcode = EXIT_INTERRUPTED
        elif status == "busy":
            self.exitcode = EXIT_BUSY
        else:
            self.exitcode = EXIT_FAILED

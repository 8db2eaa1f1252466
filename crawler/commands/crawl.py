"""`scrapy crawl`, plus a one-line summary of the run and an exit code that says how it went."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler import rules
from crawler.store import counts_from_stats

# Exit codes of `scrapy crawl` (2 is Scrapy's own for a usage error).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 3
EXIT_BUSY = 4


def summary_line(stats: dict[str, Any]) -> str:
    counts = counts_from_stats(stats)
    dropped = ", ".join(f"{reason}: {count}" for reason, count in counts.dropped.items())
    revised = f"{counts.revised} revised, " if counts.revised else ""
    return (
        f"newsdedup: run {stats.get('news/run_id', '?')} {stats.get('news/run_status', 'failed')}"
        f" ({stats.get('finish_reason', 'unknown')}): "
        f"{counts.new} new, {counts.exact_duplicate} exact duplicates, "
        f"{counts.near_duplicate} near duplicates, {counts.already_stored} already stored, "
        f"{revised}{sum(counts.dropped.values())} dropped"
        + (f" ({dropped})" if dropped else "")
        + ", "
        f"{counts.errors} errors; "
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
        assert self.crawler_process is not None and self.settings is not None
        refused = self.refused(args[0], opts.spargs)
        if refused is not None:
            messages, self.exitcode = refused
            for message in messages:
                print(f"error: {message}", file=sys.stderr)
            return
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

    def refused(self, name: str, arguments: dict[str, str]) -> tuple[list[str], int] | None:
        """Why the crawl cannot start, one line per fault, and the exit code, or None: a -a
        argument the spider does not take (2, a usage error) or a setting out of its range
        (1)."""
        assert self.crawler_process is not None and self.settings is not None
        try:
            spider = self.crawler_process.spider_loader.load(name)
        except KeyError:
            return None  # Scrapy says so itself
        known = getattr(spider, "arguments", None)
        if known is not None:
            for argument in sorted(set(arguments) - set(known)):
                valid = ", ".join(f"-a {name}=" for name in known)
                return [f"the {spider.name} spider takes no -a {argument} (it takes {valid})"], 2
        check = getattr(spider, "check_arguments", None)
        problems = check(arguments) if check is not None else []
        if problems:
            return problems, 2
        problems = rules.problems(self.settings)
        if problems:
            return problems, EXIT_FAILED
        return None

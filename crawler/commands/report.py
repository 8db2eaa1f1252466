"""`scrapy report`: the last runs, per source the signals of a changed template, and the
URLs seen and not stored, by reason."""

from __future__ import annotations

import argparse

from scrapy.exceptions import UsageError

from crawler.cli import StoreCommand, count, shown, writes_output
from db.report import FIELDS, as_json, recent_runs, source_reports
from pipelines.boilerplate import TRAILER_MARKERS

RUN_ROW = "{:>5} {:<8} {:<12} {:<19} {:>7} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7} {:>6}"


class Command(StoreCommand):
    def short_desc(self) -> str:
        return "Summarize the last runs and the quality of each source"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--runs", type=count, default=10, metavar="N", help="last N crawls (a fleet is one)"
        )
        parser.add_argument("--json", action="store_true", help="JSON output")

    @writes_output
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if opts.runs < 1:
            raise UsageError("--runs must be at least 1")
        store = self.open_store()
        if store is None:
            return
        try:
            runs = recent_runs(store, opts.runs)
            sources = source_reports(store, TRAILER_MARKERS)
            unstored = store.unstored_counts()
        finally:
            store.close()
        if opts.json:
            print(as_json(runs, sources, unstored))
            return
        print("Runs")
        print(
            RUN_ROW.format(
                "id",
                "spider",
                "status",
                "started (UTC)",
                "secs",
                "new",
                "exact",
                "near",
                "stored",
                "revised",
                "dropped",
                "errors",
            )
        )
        for run in runs:
            duration = f"{run.duration_s:.1f}" if run.duration_s is not None else "-"
            print(
                RUN_ROW.format(
                    run.id,
                    run.spider,
                    run.status,
                    run.started_at,
                    duration,
                    run.new,
                    run.exact_duplicate,
                    run.near_duplicate,
                    run.already_stored,
                    run.revised,
                    run.dropped,
                    run.errors,
                )
            )
            if run.dropped_reasons:
                reasons = ", ".join(f"{k}: {v}" for k, v in run.dropped_reasons.items())
                print(f"{'':>5} dropped: {reasons}")
            if run.fleet_id is not None:
                print(f"{'':>5} fleet {run.fleet_id}, {len(run.processes)} processes:")
                for process in run.processes:
                    print(
                        f"{'':>7} run {process.id} (pid {process.pid} on {process.host}): "
                        f"{process.status}, {process.new} new, {process.exact_duplicate} exact, "
                        f"{process.near_duplicate} near, {process.dropped} dropped, "
                        f"{process.errors} errors"
                    )
        print("\nSources")
        for source in sources:
            fills = ", ".join(f"{name} {source.fill_rates[name]:.0%}" for name in FIELDS)
            print(
                f"{shown(source.source)}\n    {source.articles} articles, "
                f"{source.duplicate_rate:.0%} duplicates, median length "
                f"{source.median_text_length:.0f}, boilerplate left in "
                f"{source.boilerplate_articles}; filled: {fills}"
            )
            for flag in source.flags:
                print(f"    FLAG: {flag} (template changed?)")
        flagged = sum(1 for s in sources if s.flags)
        print(f"\n{flagged} source{'s' if flagged != 1 else ''} flagged")
        total = sum(unstored.values())
        print(f"\nURLs seen and not stored: {total}")
        for reason, number in sorted(unstored.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"    {reason}: {number}")

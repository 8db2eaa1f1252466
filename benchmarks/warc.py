"""WARC ingest against its limit: the cores times bare trafilatura extraction.

    python benchmarks/warc.py [--pages 10000] [--files 4] [--heavy 0.5]

Writes generated news pages (benchmarks/newspages.py: 150 to 1,200 words, 10 % near-duplicate
copies; a HEAVY share of them shaped like today's news pages, 80 to 200 KB with scripts,
JSON-LD, menus, related links and comments, the rest light pages of 20 to 40 KB) into FILES
gzipped WARC files, as response records beside their request records. Measures, in one run:
- bare ``trafilatura.bare_extraction`` of the same pages in one process (pages/s);
- the same in one process per core at once, each over its share: what the cores give
  extraction alone, with no pipeline around it;
- ``scrapy crawl warc`` of the files with the default workers, into a fresh store.
Prints pages/s, the ratio to the limit (cores × bare pages/s) and to the cores at once,
where a page's CPU goes (the ``news/cpu/*`` stats: cleaning, dedup and story terms in the
workers, and the crawl process with its stages), the peak memory of the crawl process and
of its workers, and what that means for one day of CC-NEWS (about 380,000 articles): hours
on this machine, and the cores a one-hour backfill would take.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import throughput
from newspages import make_pages
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

CC_NEWS_DAY = 380_000


def write_warcs(site: Path, names: list[str], folder: Path, files: int) -> int:
    """The pages as FILES .warc.gz files; returns their total size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-len(names) // files)
    total = 0
    for number in range(files):
        path = folder / f"CC-NEWS-20261201000000-{number:05d}.warc.gz"
        with path.open("wb") as stream:
            writer = WARCWriter(stream, gzip=True)
            for name in names[number * per_file : (number + 1) * per_file]:
                url = f"https://bench.example.org/{name}"
                request = b"GET /" + name.encode() + b" HTTP/1.1\r\nHost: bench.example.org\r\n\r\n"
                writer.write_record(
                    writer.create_warc_record(url, "request", payload=io.BytesIO(request))
                )
                http = StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
                )
                body = (site / name).read_bytes()
                writer.write_record(
                    writer.create_warc_record(
                        url, "response", payload=io.BytesIO(body), http_headers=http
                    )
                )
        total += path.stat().st_size
    return total


def _extract_share(folder: Path, names: list[str]) -> int:
    import trafilatura

    return sum(
        1
        for name in names
        if trafilatura.bare_extraction((folder / name).read_text("utf-8"), with_metadata=True)
    )


def parallel_bare(folder: Path, names: list[str], processes: int) -> float:
    """Pages/s of bare extraction in PROCESSES processes at once, each over its share: what
    the machine's cores give extraction alone, without any pipeline."""
    shares = [(folder, names[start::processes]) for start in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.starmap(_extract_share, [(folder, names[:2])] * processes)  # imports, once each
        started = time.perf_counter()
        pool.starmap(_extract_share, shares)
        return len(names) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--heavy", type=float, default=0.5, help="share of heavy pages")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        site, warcs = Path(tmp) / "site", Path(tmp) / "warcs"
        names = make_pages(site, args.pages, 0.1, heavy_share=args.heavy)
        size = write_warcs(site, names, warcs, args.files)
        print(
            f"{args.pages} pages ({args.heavy:.0%} heavy) in {args.files} WARC files,"
            f" {size / 1e6:.0f} MB",
            flush=True,
        )
        bare = throughput.bare_extraction(site, names)
        print(f"bare extraction, one process: {bare['pages_per_s']:.1f} pages/s", flush=True)
        together = parallel_bare(site, names, cores)
        print(
            f"bare extraction, {cores} processes at once: {together:.1f} pages/s"
            f" ({together / bare['pages_per_s']:.2f} × one process)",
            flush=True,
        )
        run = throughput.measured(
            ["crawl", "warc", "-a", f"path={warcs}"],
            Path(tmp) / "warc.db",
            "NEWS_PROGRESS_INTERVAL=0",
        )
    if run["returncode"] != 0:
        raise SystemExit(f"the crawl failed: {run['summary']}")
    pages_per_s = args.pages / run["seconds"]
    limit = cores * bare["pages_per_s"]
    day_hours = CC_NEWS_DAY / pages_per_s / 3600
    per_core = pages_per_s / cores
    stats = run["stats"]

    def per_page(stat: str) -> float:
        return float(stats.get(stat, 0.0)) / args.pages * 1000

    crawl_ms = per_page("news/crawl_process_cpu")
    workers_ms = (
        per_page("news/cpu/cleaning")
        + per_page("news/derived_cpu/dedup")
        + per_page("news/derived_cpu/stories")
    )
    print(run["summary"])
    print(
        f"warc ingest: {pages_per_s:.1f} pages/s; limit {cores} cores × {bare['pages_per_s']:.1f}"
        f" = {limit:.1f}; ratio {pages_per_s / limit:.2f}"
        f" ({pages_per_s / together:.2f} of {cores} bare processes at once)\n"
        f"CPU a page: bare extraction {1000 / bare['pages_per_s']:.1f} ms (wall, one process);"
        f" in the ingest, workers {workers_ms:.1f} ms (cleaning with language identification"
        f" {per_page('news/cpu/cleaning'):.1f}, dedup signature"
        f" {per_page('news/derived_cpu/dedup'):.1f}, story terms"
        f" {per_page('news/derived_cpu/stories'):.1f}), crawl process {crawl_ms:.2f} (stages in"
        f" it: dedup {per_page('news/cpu/dedup') - per_page('news/derived_cpu/dedup'):.2f},"
        f" stories {per_page('news/cpu/stories') - per_page('news/derived_cpu/stories'):.2f},"
        f" storage {per_page('news/cpu/storage'):.2f}; start-up included)\n"
        f"{run['cpu_seconds'] / run['seconds']:.2f} cores busy\n"
        f"peak memory: crawl process {run['peak_rss_mb']:.0f} MB "
        f"({run['peak_anon_rss_mb']:.0f} anonymous), workers together "
        f"{run['peak_workers_rss_mb']:.0f} MB\n"
        f"one day of CC-NEWS ({CC_NEWS_DAY:,} articles): {day_hours:.1f} h on this machine; "
        f"a one-hour backfill needs about {CC_NEWS_DAY / 3600 / per_core:.0f} cores "
        f"({per_core:.1f} pages/s a core, pages like these)"
    )


if __name__ == "__main__":
    main()

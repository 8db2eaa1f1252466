"""WARC ingest against its limit: the cores times bare trafilatura extraction.

    python benchmarks/warc.py [--pages 10000] [--files 4] [--heavy 0.5]

Writes generated news pages (benchmarks/newspages.py: 150 to 1,200 words, 10 % near-duplicate
copies; a HEAVY share of them shaped like today's news pages, 80 to 200 KB with scripts,
JSON-LD, menus, related links and comments, the rest light pages of 20 to 40 KB) into FILES
gzipped WARC files, as response records beside their request records. Measures, in one run:
- bare ``trafilatura.bare_extraction`` of the same pages in one process (pages/s);
- ``scrapy crawl warc`` of the files with the default workers, into a fresh store.
Prints pages/s, the ratio to the limit (cores × bare pages/s), the peak memory of the crawl
process and of its workers, and what that means for one day of CC-NEWS (about 380,000
articles): hours on this machine, and the cores a one-hour backfill would take.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
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
    crawl_ms = run["stats"].get("news/crawl_process_cpu", 0.0) / args.pages * 1000
    print(run["summary"])
    print(
        f"warc ingest: {pages_per_s:.1f} pages/s; limit {cores} cores × {bare['pages_per_s']:.1f}"
        f" = {limit:.1f}; ratio {pages_per_s / limit:.2f}\n"
        f"crawl process {crawl_ms:.2f} ms a page; {run['cpu_seconds'] / run['seconds']:.2f} cores"
        " busy\n"
        f"peak memory: crawl process {run['peak_rss_mb']:.0f} MB "
        f"({run['peak_anon_rss_mb']:.0f} anonymous), workers together "
        f"{run['peak_workers_rss_mb']:.0f} MB\n"
        f"one day of CC-NEWS ({CC_NEWS_DAY:,} articles): {day_hours:.1f} h on this machine; "
        f"a one-hour backfill needs about {CC_NEWS_DAY / 3600 / per_core:.0f} cores "
        f"({per_core:.1f} pages/s a core, pages like these)"
    )


if __name__ == "__main__":
    main()

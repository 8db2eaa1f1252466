"""Memory and stop time of a crawl over a sitemap index that fans out to 500,000 URLs.

    python benchmarks/listing_fanout.py [--code DIR] [--pages N]

Serves tests/hostile_site.py's index of 10 sitemaps of 50,000 URLs (each page a 404),
crawls it with `scrapy crawl news` from the project at DIR (default: this one; give an
older checkout to compare), sends SIGTERM once N pages (default 3,000) were requested, and
prints the seconds until the first N pages, the crawl's peak RSS, the seconds from SIGTERM
to exit and the pages requested after the signal.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import FAST, scrapy_command, serving  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--pages", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with serving(folder / "site" / "requests.log", "hostile_site.py") as site:
            command = scrapy_command(
                ["crawl", "news", "-a", f"sitemap={site.base}/fanout-index.xml"],
                folder / "news.db",
                *FAST,
                "CONCURRENT_REQUESTS_PER_DOMAIN=16",
                "LOG_LEVEL=WARNING",
            )
            started = time.monotonic()
            crawl = subprocess.Popen(
                command, cwd=args.code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

            def pages() -> int:
                return sum(" /n/" in line for line in site.requests())

            while pages() < args.pages and crawl.poll() is None:
                time.sleep(0.1)
            reached, at_signal = time.monotonic() - started, pages()
            crawl.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            _pid, status, usage = os.wait4(crawl.pid, 0)
            stopped = time.monotonic() - stopping
            after = pages() - at_signal
    print(
        f"code {args.code}: {at_signal} pages requested in {reached:.1f} s; "
        f"peak RSS {usage.ru_maxrss / 1024:.0f} MB; exit {os.waitstatus_to_exitcode(status)} "
        f"{stopped:.2f} s after SIGTERM, {after} pages requested after it"
    )


if __name__ == "__main__":
    main()

"""Which article links the news spider reads from feeds, against feedparser's own reading.

    python benchmarks/feed_links.py FOLDER [FOLDER …]

Every ``.xml`` file under the folders (feedparser publishes its test feeds in its source
distribution: ``pip download feedparser --no-binary :all:``) is read as a feed at
``http://127.0.0.1/feeds/NAME``. The expected links are feedparser's ``entry.link`` of each
entry, resolved against the feed URL as the spider resolves every link, and kept when
http(s). Found: the share of them that crawler.feeds gives, canonicalized alike. Extra:
links crawler.feeds gives for entries with no ``link`` (an Atom ``<id>`` URL). Scope (the
allowed domains) is left out: the corpus links to example.org and the like.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser

from crawler.feeds import FeedEntries
from crawler.urls import canonical_url


def canonical(url: str) -> str | None:
    try:
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        return canonical_url(url)
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--show", action="store_true", help="print every link missed")
    args = parser.parse_args()
    feeds = expected_total = found_total = extra_total = 0
    for folder in args.folders:
        for path in sorted(folder.rglob("*.xml")):
            body = path.read_bytes()
            url = f"http://127.0.0.1/feeds/{path.name}"
            reference = feedparser.parse(io.BytesIO(body))
            expected = [
                c
                for entry in reference.entries
                if entry.get("link") and (c := canonical(urljoin(url, entry["link"])))
            ]
            got = {c for listed in FeedEntries(body, url, {}) if (c := canonical(listed.url))}
            if not expected and not got:
                continue
            feeds += 1
            found = [link for link in expected if link in got]
            expected_total += len(expected)
            found_total += len(found)
            extra_total += len(got - set(expected))
            if args.show:
                for link in set(expected) - got:
                    print(f"missed {link} in {path}")
    share = found_total / expected_total if expected_total else 1.0
    print(
        f"{feeds} feeds; feedparser's links: {expected_total}; found: {found_total} "
        f"({share:.3f}); more links found (entries without one to feedparser): {extra_total}"
    )


if __name__ == "__main__":
    main()

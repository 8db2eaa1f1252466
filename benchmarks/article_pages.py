"""Article or not, and how much text, on real saved pages: the rule of pipelines/articles.py
and the cleaning of pipelines/cleaner.py, against bare ``trafilatura.extract()``.

    python benchmarks/article_pages.py --articles 'DIR/*.html' --lists 'DIR/*_main_site.html'

Pages matched by ``--lists`` are section fronts and home pages (to be skipped); the other
pages matched by ``--articles`` are articles (to be stored). newspaper4k's source
distribution has such a set of real news pages (``tests/data/html``). Each page is taken
at the URL it declares (canonical link or og:url), as a crawl would have fetched it, or at
a neutral URL (``/saved/page``, neither an article's shape nor a list's) when it
declares none. Reports, for each group, how many pages the rule
keeps and why it drops the others, and per article the characters of text stored against
bare trafilatura's (``--text``).
"""

from __future__ import annotations

import argparse
import glob
from collections import Counter
from pathlib import Path

import trafilatura
from scrapy.http import HtmlResponse

from crawler.evidence import page_evidence
from crawler.urls import canonical_url
from pipelines.articles import not_an_article
from pipelines.cleaner import Cleaner

MIN_TEXT_CHARS = 80  # the shipped NEWS_MIN_TEXT_CHARS


def page_url(path: Path, body: bytes) -> str:
    probe = HtmlResponse("https://example.org/", body=body)
    declared = (
        probe.xpath("//link[@rel='canonical']/@href").get()
        or probe.xpath("//meta[@property='og:url']/@content").get()
    )
    if declared and declared.strip().startswith("http"):
        try:
            return canonical_url(declared.strip())
        except ValueError:
            pass
    return "https://example.org/saved/page"


def verdict(path: Path, cleaner: Cleaner, neutral: bool) -> tuple[str, int, int]:
    """("stored" or the drop reason with why, stored characters, bare characters)."""
    body = path.read_bytes()
    url = "https://example.org/saved/page" if neutral else page_url(path, body)
    response = HtmlResponse(url, body=body)
    raw = response.text
    cleaned = cleaner.clean_html(raw, url)
    bare = trafilatura.extract(raw, url=url, include_comments=False) or ""
    text = cleaned.text if cleaned is not None else ""
    why = not_an_article(page_evidence(response, url, None), text)
    if why:
        return f"not_article: {why}", len(text), len(bare)
    if len(text) < MIN_TEXT_CHARS:
        return f"too_short: {len(text)} characters", len(text), len(bare)
    return "stored", len(text), len(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", required=True, help="glob of article pages")
    parser.add_argument("--lists", default="", help="glob of list pages (fronts, tags)")
    parser.add_argument("--text", action="store_true", help="characters per article")
    parser.add_argument(
        "--neutral-urls", action="store_true", help="no page at its own URL: the rest of the rule"
    )
    args = parser.parse_args()
    lists = {Path(p) for p in glob.glob(args.lists)} if args.lists else set()
    articles = [Path(p) for p in sorted(glob.glob(args.articles)) if Path(p) not in lists]
    cleaner = Cleaner([])
    for label, pages in (("articles", articles), ("lists", sorted(lists))):
        outcomes: Counter[str] = Counter()
        for path in pages:
            outcome, stored, bare = verdict(path, cleaner, args.neutral_urls)
            outcomes["stored" if outcome == "stored" else outcome.split(":")[0]] += 1
            if outcome != "stored" or args.text:
                print(f"  {label[:-1]} {path.name}: {outcome} (text {stored}, bare {bare})")
        kept = outcomes["stored"]
        print(f"{label}: {len(pages)} pages, {kept} stored, {dict(outcomes)}")


if __name__ == "__main__":
    main()

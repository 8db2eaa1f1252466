"""Syndication, a site's own copies and revisions, told apart, with two sites on loopback:
the publisher as 127.0.0.1 and a partner as localhost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FAST, CrawlResult, Site, run_scrapy, serving
from tests.webpages import Www, article, sample, urlset


@pytest.fixture
def publisher(tmp_path: Path) -> Iterator[tuple[Site, Www]]:
    log = tmp_path / "publisher" / "requests.log"
    with serving(log, "static_site.py") as site:
        yield site, Www(log)


@pytest.fixture
def partner(tmp_path: Path) -> Iterator[tuple[Site, Www]]:
    log = tmp_path / "partner" / "requests.log"
    with serving(log, "static_site.py") as site:
        yield site, Www(log)


def localhost(site: Site) -> str:
    return f"http://localhost:{site.port}"


def crawl(sitemap: str, database: Path, *settings: str) -> CrawlResult:
    return run_scrapy(["crawl", "news", "-a", f"sitemap={sitemap}"], database, *FAST, *settings)


def test_syndicated_copies_and_a_sites_own_copy_are_told_apart(publisher, partner, tmp_path):
    (a, a_www), (b, b_www) = publisher, partner
    database = tmp_path / "news.db"
    original = f"{a.base}/a/heat.html"
    a_www.put("/a/heat.html", article("en-heatwave"))
    a_www.put("/sitemap.xml", urlset([(original, None)]))
    first = crawl(f"{a.base}/sitemap.xml", database)
    assert first.returncode == 0, first.stderr[-3000:]

    title, paragraphs = sample("en-heatwave")
    b_base = localhost(b)
    pages = {
        # The partner's copy naming the original as canonical: kept under its own URL.
        "/wire/heat.html": article("en-heatwave", canonical=original),
        # A lightly edited copy, with no canonical link.
        "/wire/heat-edited.html": article(
            "en-heatwave", body=[*paragraphs[:-1], "Reporting by the Valley Courier."]
        ),
        # The partner's own article, and its print version.
        "/a/library.html": article("en-library"),
        "/print/library.html": article("en-library", og_type=None),
    }
    for path, page in pages.items():
        b_www.put(path, page)
    b_www.put("/sitemap.xml", urlset([(f"{b_base}{path}", None) for path in pages]))
    second = crawl(f"{b_base}/sitemap.xml", database)
    assert second.returncode == 0, second.stderr[-3000:]

    rows = second.rows(
        "SELECT url, duplicate_of, duplicate_kind, canonical_url FROM articles ORDER BY id"
    )
    by_url = {url: (of, kind, canonical) for url, of, kind, canonical in rows}
    [(original_id,)] = second.rows("SELECT id FROM articles WHERE url = ?", original)
    assert by_url[original] == (None, None, None)
    assert by_url[f"{b_base}/wire/heat.html"] == (original_id, "syndicated", original)
    assert by_url[f"{b_base}/wire/heat-edited.html"] == (original_id, "syndicated", None)
    # The partner's article and its print version: whichever came first is canonical, the
    # other its own site's copy.
    own = {by_url[f"{b_base}{path}"] for path in ("/a/library.html", "/print/library.html")}
    [(canonical_id,)] = second.rows(
        "SELECT id FROM articles WHERE url LIKE '%library.html' AND duplicate_of IS NULL"
    )
    assert own == {(None, None, None), (canonical_id, "exact", None)}
    # The canonical link to the other site was never fetched by the partner's crawl.
    assert a.requests().count("127.0.0.1 /a/heat.html") == 1
    assert second.rows(
        "SELECT duplicate_count, syndications FROM articles_dedup WHERE id = ?", original_id
    ) == [(2, 2)]
    assert title  # the sample has a headline


@pytest.mark.slow  # 15 s or more: several crawls
def test_a_corrected_article_is_refetched_alone_and_keeps_its_id(publisher, tmp_path):
    site, www = publisher
    database = tmp_path / "news.db"
    urls = {name: f"{site.base}/a/{name}.html" for name in ("tram", "heat")}
    www.put("/a/tram.html", article("en-tram-extension"))
    www.put("/a/heat.html", article("en-heatwave"))
    old = "2026-10-01T00:00:00Z"
    www.put("/sitemap.xml", urlset([(urls["tram"], old), (urls["heat"], old)]))
    first = crawl(f"{site.base}/sitemap.xml", database)
    assert first.returncode == 0, first.stderr[-3000:]
    [(tram_id, story_id)] = first.rows(
        "SELECT id, story_id FROM articles WHERE url = ?", urls["tram"]
    )

    # The publisher corrects a figure and a sentence, and moves the entry's lastmod.
    _title, paragraphs = sample("en-tram-extension")
    corrected = [paragraphs[0].replace("council", "city council"), *paragraphs[1:]]
    corrected.append(
        "Correction: an earlier version gave the wrong opening year. Read 1,204 times."
    )
    www.put("/a/tram.html", article("en-tram-extension", body=corrected))
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    www.put("/sitemap.xml", urlset([(urls["tram"], later), (urls["heat"], old)]))
    seen = len(site.requests())
    second = crawl(f"{site.base}/sitemap.xml", database)
    assert second.returncode == 0, second.stderr[-3000:]
    assert [r for r in site.requests()[seen:] if " /a/" in r] == ["127.0.0.1 /a/tram.html"]
    assert "1 revised" in second.stdout
    assert second.rows("SELECT COUNT(*) FROM articles") == [(2,)]
    [(same_id, text, story)] = second.rows(
        "SELECT id, text, story_id FROM articles WHERE url = ?", urls["tram"]
    )
    assert (same_id, story) == (tram_id, story_id)
    assert "Correction: an earlier version" in text
    versions = second.rows(
        "SELECT version, text LIKE '%Correction:%', run_id FROM article_versions "
        "WHERE article_id = ? ORDER BY version",
        tram_id,
    )
    assert versions == [(1, 0, None), (2, 1, 2)]
    assert second.rows("SELECT items_revised FROM crawl_runs WHERE id = 2") == [(1,)]

    # Its lastmod moves again and only a figure changed (a counter, or a corrected toll):
    # a version of its own; the next figures-only change replaces it, so a counter never
    # grows the history.
    for run, count in ((3, "1,377"), (4, "1,512")):
        counted = [*corrected[:-1], corrected[-1].replace("1,204", count)]
        www.put("/a/tram.html", article("en-tram-extension", body=counted))
        moved = (datetime.now(UTC) + timedelta(minutes=5 * run)).strftime("%Y-%m-%dT%H:%M:%SZ")
        www.put("/sitemap.xml", urlset([(urls["tram"], moved), (urls["heat"], old)]))
        again = crawl(f"{site.base}/sitemap.xml", database)
        assert again.returncode == 0, again.stderr[-3000:]
        assert again.rows("SELECT items_revised FROM crawl_runs WHERE id = ?", run) == [(1,)]
    assert again.rows(
        "SELECT version, change, text LIKE '%Read 1,512 times%' FROM article_versions "
        "WHERE article_id = ? ORDER BY version",
        tram_id,
    ) == [(1, "first", 0), (2, "text", 0), (3, "figures", 1)]
    # An unchanged refetch stores nothing.
    www.put(
        "/sitemap.xml", urlset([(urls["tram"], moved.replace("Z", ".5Z")), (urls["heat"], old)])
    )
    unchanged = crawl(f"{site.base}/sitemap.xml", database)
    assert unchanged.returncode == 0, unchanged.stderr[-3000:]
    assert unchanged.rows(
        "SELECT items_revised, items_already_stored FROM crawl_runs WHERE id = 5"
    ) == [(0, 2)]
    assert unchanged.rows("SELECT COUNT(*) FROM article_versions") == [(3,)]
    report = run_scrapy(["report"], database)
    assert report.returncode == 0
    assert " revised " in report.stdout


def test_a_revision_that_becomes_a_copy_moves_into_the_group_on_record(publisher, tmp_path):
    site, www = publisher
    database = tmp_path / "news.db"
    one, two = f"{site.base}/a/one.html", f"{site.base}/a/two.html"
    www.put("/a/one.html", article("fr-crue"))
    www.put("/a/two.html", article("en-chip-plant"))
    old = "2026-10-01T00:00:00Z"
    www.put("/sitemap.xml", urlset([(one, old), (two, old)]))
    first = crawl(f"{site.base}/sitemap.xml", database)
    assert first.returncode == 0, first.stderr[-3000:]
    ids = dict(first.rows("SELECT url, id FROM articles"))
    stories = dict(first.rows("SELECT url, story_id FROM articles"))
    assert stories[one] != stories[two]

    # The second page is replaced by the first one's text (a page reused for a wire story).
    www.put("/a/two.html", article("fr-crue"))
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    www.put("/sitemap.xml", urlset([(one, old), (two, later)]))
    second = crawl(f"{site.base}/sitemap.xml", database)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.rows(
        "SELECT duplicate_of, duplicate_kind FROM articles WHERE id = ?", ids[two]
    ) == [(ids[one], "exact")]
    # Each version keeps the decision made for its text.
    assert second.rows(
        "SELECT version, duplicate_of FROM article_versions WHERE article_id = ? ORDER BY version",
        ids[two],
    ) == [(1, None), (2, ids[one])]
    # The two stories are one now, and the merge says why.
    [(live,)] = second.rows(
        "SELECT COUNT(DISTINCT story_id) FROM articles WHERE id IN (?, ?)", ids[one], ids[two]
    )
    assert live == 1
    [(reason,)] = second.rows("SELECT reason FROM story_merges")
    assert reason == f"revision 2 of article {ids[two]} became a duplicate of article {ids[one]}"
    # It left the index of canonical articles: only the first article is found by its bands.
    [(indexed,)] = second.rows(
        "SELECT COUNT(DISTINCT article_id) FROM lsh_buckets WHERE lsh = 1 AND article_id = ?",
        ids[two],
    )
    assert indexed == 0

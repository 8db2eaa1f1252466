"""The news spider against a real local site: discovery, scope, errors, canonical URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.urls import canonical_url
from tests.conftest import FAST, CrawlResult, Site, run_scrapy, serving


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The publisher."""
    with serving(tmp_path / "site" / "requests.log") as server:
        yield server


@pytest.fixture
def partner(tmp_path: Path) -> Iterator[Site]:
    """A partner that republishes one article, on another host and port."""
    with serving(tmp_path / "partner" / "requests.log") as server:
        yield server


def crawl_publisher(site: Site, database: Path) -> CrawlResult:
    return run_scrapy(
        [
            "crawl",
            "news",
            "-a",
            f"sitemap={site.base}/sitemap_index.xml",
            "-a",
            f"feed={site.base}/rss.xml,{site.base}/atom.xml",
        ],
        database,
        *FAST,
        "DOWNLOAD_MAXSIZE=100000",
        "RETRY_TIMES=2",
    )


PUBLISHED = {
    "/news/tram-extension.html": ("Northbridge council approves tram", "2026-10-01", "en"),
    "/news/chip-plant.html": ("Halvorsen Semiconductors to build", "2026-10-02", "en"),
    "/news/heatwave.html": ("Record September heat closes schools", "2026-10-03", "en"),
    "/fr/greve-ter.html": ("Grève des contrôleurs", "2026-10-04", "fr"),
    "/fr/vendanges.html": ("En Bourgogne, des vendanges précoces", "2026-10-05", "fr"),
    "/fr/crue.html": ("Crue de la Loire", "2026-10-06", "fr"),
    "/flaky.html": ("La start-up lyonnaise Batisol", "2026-10-07", "fr"),
    "/legacy.html": ("Saint-Aubin : la Loire amorce sa décrue", "2026-10-08", "fr"),
    "/latin1.html": ("Rénovation énergétique : Thermea reprend", "2026-10-08", "fr"),
}


def test_publisher_site_is_stored_once_and_cleanly(site, tmp_path):
    result = crawl_publisher(site, tmp_path / "news.db")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = result.rows("SELECT url, title, published_at, language, text, site_name FROM articles")
    by_path = {url.removeprefix(site.base): row for url, *row in rows}
    assert set(by_path) == set(PUBLISHED)  # each article once, under its canonical URL
    for path, (title, date, language) in PUBLISHED.items():
        stored_title, published, stored_language, text, site_name = by_path[path]
        assert stored_title.startswith(title), path
        assert published.startswith(date), path
        assert stored_language == language, path
        assert site_name == "The Valley Courier"
        for boilerplate in (
            "Related articles",
            "Articles connexes",
            "Leave a comment",
            "Laisser un commentaire",
            "All rights reserved",
            "Admin",
        ):
            assert boilerplate not in text, (path, boilerplate)
    # Windows-1252 without any declaration: accents intact.
    assert "découvrent les dégâts" in by_path["/legacy.html"][0]
    assert "consolider le ballast" in by_path["/legacy.html"][3]
    # ISO-8859-1 declared in the Content-Type header only.
    assert "sauvant ainsi 210 emplois" in by_path["/latin1.html"][3]

    requested = site.requests()
    assert not any("/private/" in line for line in requested)  # robots.txt
    assert requested.count("127.0.0.1 /flaky.html") == 2  # a 500, then the retry that worked
    assert requested.count("127.0.0.1 /broken.html") == 3  # a 503, and two retries
    assert requested.count("127.0.0.1 /redirected") == 1  # redirected to a stored article
    [(reasons, status)] = result.rows("SELECT dropped_reasons, status FROM crawl_runs")
    assert json.loads(reasons) == {"http_404": 1, "http_503": 1, "non_html": 1, "too_large": 1}
    assert status == "finished" and result.returncode == 0
    assert result.stdout.strip().splitlines()[-1].startswith("newsdedup: run 1 finished")


def test_sitemaps_named_in_robots_txt_are_read(site, tmp_path):
    result = run_scrapy(
        ["crawl", "news", "-a", f"sitemap={site.base}/robots.txt"],
        tmp_path / "news.db",
        *FAST,
        "RETRY_TIMES=2",
        "DOWNLOAD_MAXSIZE=100000",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stored = {url.removeprefix(site.base) for (url,) in result.rows("SELECT url FROM articles")}
    assert stored == set(PUBLISHED)


def test_second_run_requests_no_stored_article_and_finds_new_ones(site, tmp_path):
    database = tmp_path / "news.db"
    assert crawl_publisher(site, database).returncode == 0
    site.log.write_text("")
    again = crawl_publisher(site, database)
    assert again.returncode == 0
    assert again.rows("SELECT COUNT(*) FROM articles") == [(len(PUBLISHED),)]
    article_paths = {f"127.0.0.1 {path}" for path in PUBLISHED}
    assert article_paths.isdisjoint(site.requests())
    # The sitemap index and both feeds were asked for conditionally and had not changed, so
    # the sitemaps behind the index were not even requested.
    assert "'news/listings/unchanged': 3" in again.stderr
    assert not any("/sitemap-" in line for line in site.requests())

    (site.log.parent / "late").write_text("")  # the site publishes one more article
    later = crawl_publisher(site, database)
    assert later.returncode == 0
    assert later.rows("SELECT url FROM articles WHERE run_id = 3") == [
        (f"{site.base}/news/library.html",)
    ]
    # The English sitemap and the RSS feed changed; of their entries, only the new one was
    # newer than the last read, so no other article page was requested.
    third = [line for line in site.requests() if line.startswith("127.0.0.1 /news/")]
    assert third.count("127.0.0.1 /news/library.html") == 1
    assert len(third) == 1


def test_syndicated_copy_on_a_second_host_is_a_duplicate(site, partner, tmp_path):
    database = tmp_path / "news.db"
    assert crawl_publisher(site, database).returncode == 0
    crawl = run_scrapy(
        ["crawl", "news", "-a", f"start=http://localhost:{partner.port}/"], database, *FAST
    )
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    [(url, original, similarity)] = crawl.rows(
        "SELECT a.url, c.url, a.similarity FROM articles a JOIN articles c "
        "ON c.id = a.duplicate_of WHERE a.run_id = 2"
    )
    assert url == f"http://localhost:{partner.port}/partner/tram.html"
    assert original == f"{site.base}/news/tram-extension.html"
    assert 0 < similarity <= 1


def test_no_source_reachable_fails_the_run(tmp_path):
    result = run_scrapy(
        ["crawl", "news", "-a", "sitemap=http://127.0.0.1:9/sitemap.xml"],
        tmp_path / "news.db",
        *FAST,
        "RETRY_TIMES=0",
    )
    assert result.returncode == 1
    assert "news: no source could be reached" in result.stderr
    assert result.rows("SELECT status FROM crawl_runs") == [("failed",)]


def test_private_addresses_are_refused_by_default(site, tmp_path):
    result = run_scrapy(
        [
            "crawl",
            "news",
            "-a",
            f"sitemap={site.base}/sitemap_index.xml",
            "-a",
            f"start=http://localhost:{site.port}/",
        ],
        tmp_path / "news.db",
        "AUTOTHROTTLE_ENABLED=False",
    )
    assert site.requests() == []  # not even robots.txt reached the server
    assert result.returncode == 1  # and so no source could be reached
    assert f"Refused {site.base}/sitemap_index.xml: 127.0.0.1 resolves to non-public" in (
        result.stderr
    )
    assert "localhost resolves to non-public" in result.stderr
    [(reasons,)] = result.rows("SELECT dropped_reasons FROM crawl_runs")
    assert json.loads(reasons)["private_address"] >= 2


def test_no_source_is_a_one_line_error(tmp_path):
    result = run_scrapy(["crawl", "news"], tmp_path / "news.db")
    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if "] ERROR:" in line]
    assert error.endswith(
        "news: no source given; use -a sitemap=, -a feed=, -a start= or -a sources="
    )


def test_canonical_url_drops_fragments_and_tracking():
    assert (
        canonical_url("http://Ex.org/a?utm_source=x&id=3&fbclid=1&gclid=2#top")
        == "http://ex.org/a?id=3"
    )
    assert canonical_url("https://ex.org/p?b=2&a=1") == "https://ex.org/p?a=1&b=2"

"""Feeds, sitemaps and pages as real sites publish them, through the real engine against a
local site: which links are found, which pages are articles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAST, CrawlResult, Site, run_scrapy, serving
from tests.webpages import (
    Www,
    article,
    atom,
    atom_entry,
    front,
    rss,
    rss_item,
    sample,
    sitemap_index,
    urlset,
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, Www]]:
    log = tmp_path / "site" / "requests.log"
    www = Www(log)
    with serving(log, "static_site.py") as server:
        yield server, www


def crawl(
    site: Site, database: Path, *arguments: str, settings: tuple[str, ...] = ()
) -> CrawlResult:
    args = ["crawl", "news"]
    for argument in arguments:
        args += ["-a", argument.replace("//SITE", site.base)]
    return run_scrapy(args, database, *FAST, *settings)


def fetched(site: Site, prefix: str = "/a/") -> list[str]:
    return [
        line.split(" ", 1)[1]
        for line in site.requests()
        if line.split(" ", 1)[1].startswith(prefix)
    ]


def stored(result: CrawlResult, site: Site) -> dict[str, tuple[str | None, str | None]]:
    rows = result.rows("SELECT url, title, published_at FROM articles")
    return {url.removeprefix(site.base): (title, published) for url, title, published in rows}


def reasons(result: CrawlResult) -> dict[str, int]:
    [(text,)] = result.rows("SELECT dropped_reasons FROM crawl_runs ORDER BY id DESC LIMIT 1")
    import json

    return json.loads(text)


def test_feed_links_as_feedparser_reads_them(site, tmp_path):
    server, www = site
    base = server.base
    for number, name in enumerate(
        (
            "en-heatwave",
            "en-library",
            "en-chip-plant",
            "en-bus-lanes",
            "fr-crue",
            "fr-vendanges",
            "fr-greve-ter",
            "en-tram-contract",
        )
    ):
        www.put(f"/a/{number}.html", article(name, date=None))
    www.put("/a/enclosure.mp3.html", article("fr-levee-fonds"))
    www.put(
        "/feeds/atom.xml",
        atom(
            [
                # Only an <id>, which is a URL.
                atom_entry("Zero", ident=f"{base}/a/0.html"),
                # Relative to xml:base; the enclosure is no article.
                atom_entry("One", links={"alternate": "1.html", "enclosure": "enclosure.mp3.html"}),
            ],
            base=f"{base}/a/",
        ),
    )
    www.put(
        "/feeds/rss.xml",
        rss(
            [
                # A guid that is a permalink (isPermaLink absent, then true), no <link>.
                rss_item("Two", guid=f"{base}/a/2.html", date="Mon, 05 Oct 2026 07:30:00 GMT"),
                rss_item("Three", guid=f"{base}/a/3.html", permalink="true"),
                # A guid that says it is no permalink is a name, not a link.
                rss_item("Not a link", guid=f"{base}/a/enclosure.mp3.html", permalink="false"),
            ]
        ),
        headers={"Content-Type": "text/html; charset=utf-8"},  # a feed served as HTML
    )
    # Relative links resolve against Content-Location; an unescaped & is kept as written.
    www.put(
        "/feeds/located.xml",
        rss(
            [
                rss_item("Four", link="../../a/4.html"),
                rss_item("Five", link=f"{base}/a/5.html?id=5&amp;p=1"),
                rss_item("Six", link=f"{base}/a/6.html?id=6&p=1"),
            ]
        ),
        headers={"Content-Location": f"{base}/feeds/v2/located.xml"},
    )
    result = crawl(
        server,
        tmp_path / "news.db",
        "feed=//SITE/feeds/atom.xml,//SITE/feeds/rss.xml,//SITE/feeds/located.xml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    paths = fetched(server)
    assert sorted(paths) == [
        "/a/0.html",
        "/a/1.html",
        "/a/2.html",
        "/a/3.html",
        "/a/4.html",
        "/a/5.html?id=5&p=1",
        "/a/6.html?id=6&p=1",
    ]
    articles = stored(result, server)
    # The page carries no date: the feed entry's is its publication date.
    assert str(articles["/a/2.html"][1]).startswith("2026-10-05 07:30:00")
    assert len(articles) == 7


def test_sitemaps_in_every_form_the_protocol_allows(site, tmp_path):
    server, www = site
    base = server.base
    names = (
        "en-heatwave",
        "en-library",
        "en-chip-plant",
        "en-bus-lanes",
        "fr-crue",
        "fr-vendanges",
    )
    for number, name in enumerate(names):
        www.put(f"/a/{number}.html", article(name, date=None))
    # robots.txt, in the spellings sites use.
    www.put(
        "/robots.txt",
        "User-agent: *\nDisallow: /private/\n"
        f"sitemap: {base}/maps/news.xml\nSITEMAP : /maps/urls.txt\n"
        f"Sitemaps:{base}/maps/index.xml\n# Sitemap: {base}/maps/commented.xml\n",
    )
    # A news sitemap: its publication date is the article's when the page has none.
    www.put(
        "/maps/news.xml",
        urlset(
            [(f"{base}/a/0.html", None)],
            news={f"{base}/a/0.html": ("2026-10-04T06:00:00+02:00", "Heat closes schools")},
        ),
    )
    # A plain-text sitemap, one URL a line, with a blank line and a stray word.
    www.put("/maps/urls.txt", f"{base}/a/1.html\n\nnot-a-url\n{base}/a/2.html\n")
    # An index listing an RSS feed and an Atom feed as sitemaps, as the protocol allows.
    www.put("/maps/index.xml", sitemap_index([f"{base}/maps/feed.rss", f"{base}/maps/feed.atom"]))
    www.put("/maps/feed.rss", rss([rss_item("Three", link=f"{base}/a/3.html")]))
    www.put("/maps/feed.atom", atom([atom_entry("Four", links={"alternate": f"{base}/a/4.html"})]))
    # An RSS feed given on the command line as a sitemap.
    www.put("/rss-given-as-sitemap.xml", rss([rss_item("Five", link=f"{base}/a/5.html")]))
    result = crawl(
        server, tmp_path / "news.db", "sitemap=//SITE/robots.txt,//SITE/rss-given-as-sitemap.xml"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    articles = stored(result, server)
    assert sorted(articles) == [f"/a/{n}.html" for n in range(6)]
    assert str(articles["/a/0.html"][1]).startswith("2026-10-04 04:00:00")
    assert not any("commented" in line for line in server.requests())
    assert reasons(result) == {}


def test_articles_are_told_from_lists_by_evidence_not_og_type(site, tmp_path):
    server, www = site
    base = server.base
    teasers = {
        f"{base}/a/{n}.html": f"Council report number {n} on the tram works delays"
        for n in range(12)
    }
    pages = {
        # Articles: og:type says website, or video.other, or nothing.
        "/a/website.html": article("en-heatwave", og_type="website", schema="NewsArticle"),
        "/a/video.html": article("en-library", og_type="video.other"),
        "/a/plain.html": article("en-chip-plant", og_type=None),
        "/a/blog.html": article("fr-crue", og_type="website", schema="BlogPosting"),
        # Lists: the front page, a tag page, a section front, a collection.
        "/": front(teasers),
        "/tag/trams/": front(teasers, og_type="article"),
        "/news/": front(teasers, og_type=None),
        "/best-of-2026.html": front(teasers, og_type=None, schema="CollectionPage"),
    }
    for path, page in pages.items():
        www.put(path, page)
    www.put("/sitemap.xml", urlset([(f"{base}{path}", None) for path in pages]))
    result = crawl(server, tmp_path / "news.db", "sitemap=//SITE/sitemap.xml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(stored(result, server)) == [
        "/a/blog.html",
        "/a/plain.html",
        "/a/video.html",
        "/a/website.html",
    ]
    assert reasons(result) == {"not_article": 4}
    for path, why in (
        ("/", "its URL is the site's front page"),
        ("/tag/trams/", "its URL is a /tag/ page"),
        ("/news/", "12 headline links for"),
        ("/best-of-2026.html", "its structured data says CollectionPage"),
    ):
        assert f"not_article: {base}{path}: {why}" in result.stderr, path


@pytest.mark.slow  # 15 s or more: several crawls
def test_what_was_not_stored_is_fetched_again_only_when_due(site, tmp_path):
    server, www = site
    base = server.base
    database = tmp_path / "news.db"
    www.put("/a/0.html", article("en-heatwave"))
    www.put("/a/1.html", article("en-library"))
    www.put("/a/flaky.html", article("en-chip-plant"), status=500)
    www.put("/a/short.html", article("fr-crue", body=["Brief."]))
    old = "2026-10-01T00:00:00Z"
    sitemap = [(f"{base}/a/{name}.html", old) for name in ("0", "flaky", "short")]
    www.put("/sitemap.xml", urlset(sitemap))
    items = [rss_item("One", link=f"{base}/a/1.html", date="Fri, 02 Oct 2026 00:00:00 GMT")]
    www.put("/feed.xml", rss(items))
    sources = ("sitemap=//SITE/sitemap.xml", "feed=//SITE/feed.xml")
    # No retries within a run; a floor the short page stays below, menu and headline included.
    retries = ("RETRY_ENABLED=False", "NEWS_MIN_TEXT_CHARS=200")

    first = crawl(server, database, *sources, settings=retries)
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(stored(first, server)) == ["/a/0.html", "/a/1.html"]
    ledger = first.rows("SELECT url, reason, attempts FROM urls ORDER BY url")
    assert ledger == [
        (f"{base}/a/flaky.html", "http_500", 1),
        (f"{base}/a/short.html", "too_short", 1),
    ]

    # The server is mended, nothing else changed: the listings are read, no page is.
    www.unroute("/a/flaky.html")
    requested = len(server.requests())
    second = crawl(server, database, *sources, settings=retries)
    assert second.returncode == 0, second.stderr[-3000:]
    assert [line for line in server.requests()[requested:] if " /a/" in line] == []
    assert "'news/items/not_due': 2" in second.stderr
    assert "'news/items/already_stored': 2" in second.stderr
    report = run_scrapy(["report"], database)
    assert "URLs seen and not stored: 2\n    http_500: 1\n    too_short: 1\n" in report.stdout

    # A feed item that appears late, dated before the first run, is still fetched; once
    # the back-off is over, the page that failed is fetched again and stored.
    items.append(rss_item("Late", link=f"{base}/a/late.html", date="Wed, 30 Sep 2026 00:00:00 GMT"))
    www.put("/feed.xml", rss(items))
    www.put("/a/late.html", article("fr-vendanges"))
    requested = len(server.requests())
    third = crawl(server, database, *sources, settings=(*retries, "NEWS_REVISIT_BACKOFF_HOURS=0"))
    assert third.returncode == 0, third.stderr[-3000:]
    assert sorted(fetched_since(server, requested)) == ["/a/flaky.html", "/a/late.html"]
    assert sorted(stored(third, server)) == [
        "/a/0.html",
        "/a/1.html",
        "/a/flaky.html",
        "/a/late.html",
    ]
    assert third.rows("SELECT url, reason FROM urls") == [(f"{base}/a/short.html", "too_short")]

    # The sitemap says the short page changed: it is fetched again at once.
    www.put("/a/short.html", article("fr-crue"))
    sitemap[2] = (f"{base}/a/short.html", "2026-11-20T00:00:00Z")
    www.put("/sitemap.xml", urlset(sitemap))
    requested = len(server.requests())
    fourth = crawl(server, database, *sources, settings=retries)
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    assert fetched_since(server, requested) == ["/a/short.html"]
    assert "/a/short.html" in stored(fourth, server)
    assert fourth.rows("SELECT COUNT(*) FROM urls") == [(0,)]


def fetched_since(site: Site, start: int) -> list[str]:
    return [line.split(" ", 1)[1] for line in site.requests()[start:] if " /a/" in line]


def test_a_malformed_url_is_one_skipped_entry(site, tmp_path):
    server, www = site
    base = server.base
    for number, name in enumerate(("en-heatwave", "en-library", "en-chip-plant", "fr-crue")):
        www.put(f"/a/{number}.html", article(name))
    # A malformed canonical link is ignored: the page is stored under its own URL.
    www.put("/a/3.html", article("fr-crue", canonical="http://[::1"))
    www.put(
        "/feed.xml",
        rss([rss_item("Bad", link="http://[::1"), rss_item("Zero", link=f"{base}/a/0.html")]),
    )
    www.put(
        "/sitemap.xml",
        urlset(
            [
                ("http://[::1/x", None),
                (f"{base}/a/1.html", None),
                ("http://127.0.0.1:99999/a.html", None),
                (f"{base}/a/3.html", None),
            ]
        ),
    )
    www.put("/index.xml", sitemap_index(["https://[bad/sitemap.xml", f"{base}/second.xml"]))
    www.put("/second.xml", urlset([(f"{base}/a/2.html", None)]))
    result = crawl(
        server,
        tmp_path / "news.db",
        "feed=//SITE/feed.xml",
        "sitemap=//SITE/sitemap.xml,//SITE/index.xml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(stored(result, server)) == [f"/a/{n}.html" for n in range(4)]
    # feedparser keeps no link it cannot parse: the feed's bad item has none.
    assert reasons(result) == {"invalid_url": 3, "feed_entry_without_link": 1}
    assert "Skipped http://[::1/x: invalid_url (Invalid IPv6 URL)" in result.stderr
    assert "Skipped https://[bad/sitemap.xml: invalid_url (Invalid IPv6 URL)" in result.stderr


def test_a_crawl_queues_at_most_its_cap_of_article_requests(site, tmp_path):
    server, www = site
    base = server.base
    for number in range(10):
        www.put(
            f"/a/{number}.html", article("en-heatwave", body=[f"Report {number}: " + "x " * 100])
        )
    www.put("/one.xml", urlset([(f"{base}/a/{n}.html", None) for n in range(5)]))
    www.put("/two.xml", urlset([(f"{base}/a/{n}.html", None) for n in range(5, 10)]))
    www.put("/index.xml", sitemap_index([f"{base}/one.xml", f"{base}/two.xml"]))
    result = crawl(
        server,
        tmp_path / "news.db",
        "sitemap=//SITE/index.xml",
        settings=("NEWS_MAX_ARTICLE_REQUESTS=3",),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(fetched(server)) == 3
    assert reasons(result)["listing_truncated"] >= 1
    assert "NEWS_MAX_ARTICLE_REQUESTS (3) article requests queued in this crawl" in result.stderr
    # The next run reads the rest.
    again = crawl(server, tmp_path / "news.db", "sitemap=//SITE/index.xml")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(set(fetched(server))) == 10


def test_a_related_line_inside_an_article_cuts_nothing_but_itself(site, tmp_path):
    server, www = site
    _title, paragraphs = sample("en-heatwave")
    related = "Related: Schools in the north stay open despite the heat"
    body = [*paragraphs[:2], "Related", related, *paragraphs[2:]]
    www.put("/a/heat.html", article("en-heatwave", body=body))
    www.put("/sitemap.xml", urlset([(f"{server.base}/a/heat.html", None)]))
    result = crawl(server, tmp_path / "news.db", "sitemap=//SITE/sitemap.xml")
    assert result.returncode == 0, result.stderr[-3000:]
    [(text,)] = result.rows("SELECT text FROM articles")
    # Every paragraph of the article is stored, after the "Related" lines as before them.
    for paragraph in paragraphs:
        assert paragraph in text
    assert "Related" not in text


def test_redirected_urls_are_not_fetched_again_on_the_next_run(site, tmp_path):
    server, www = site
    base = server.base
    database = tmp_path / "news.db"
    www.put("/a/new.html", article("en-heatwave"))
    # A moved article, listed under its old URL too, and one that moved to another site.
    www.put("/a/old.html", "", status=301, headers={"Location": f"{base}/a/new.html"})
    www.put("/a/away.html", "", status=302, headers={"Location": "http://elsewhere.example/x"})
    paths = ("/a/old.html", "/a/new.html", "/a/away.html")
    www.put("/sitemap.xml", urlset([(f"{base}{path}", None) for path in paths]))

    first = crawl(server, database, "sitemap=//SITE/sitemap.xml")
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(stored(first, server)) == ["/a/new.html"]
    assert dict(first.rows("SELECT url, reason FROM urls")) == {
        f"{base}/a/old.html": "alias",
        f"{base}/a/away.html": "redirected_offsite",
    }
    seen = len(server.requests())
    second = crawl(server, database, "sitemap=//SITE/sitemap.xml")
    assert second.returncode == 0, second.stderr[-3000:]
    assert [line for line in server.requests()[seen:] if " /a/" in line] == []

"""The news spider against a hostile server (tests/hostile_site.py): every attack is refused
with a logged reason and a count, and the good articles beside it are stored."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.middlewares import is_public
from tests.conftest import FAST, ROOT, CrawlResult, Site, run_scrapy, scrapy_command, serving
from tests.hostile_site import GOOD, SECRET
from tests.webpages import Www, article, urlset

GOOD_PATHS = list(GOOD)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serving(tmp_path_factory.mktemp("hostile") / "requests.log", "hostile_site.py") as site:
        yield site


def crawl(site: Site, database: Path, *sources: str, settings: tuple[str, ...] = ()) -> Crawled:
    """`scrapy crawl news` with SOURCES given as "sitemap=/path" etc. on the hostile site."""
    args = ["crawl", "news"]
    for source in sources:
        kind, path = source.split("=", 1)
        args += ["-a", f"{kind}={','.join(site.base + p for p in path.split(','))}"]
    command = scrapy_command(args, database, *FAST, "RETRY_TIMES=0", *settings)
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stdout, stderr = proc.communicate(timeout=120)
    return Crawled(proc.returncode, stdout, stderr, database)


class Crawled(CrawlResult):
    def reasons(self) -> dict[str, int]:
        [(reasons,)] = self.rows("SELECT dropped_reasons FROM crawl_runs ORDER BY id DESC LIMIT 1")
        return dict(json.loads(reasons))

    def stored_paths(self, base: str) -> set[str]:
        return {url.removeprefix(base) for (url,) in self.rows("SELECT url FROM articles")}

    def logged(self, url: str, reason: str) -> bool:
        return f"Skipped {url}: {reason} (" in self.stderr


def crawl_rss(command: list[str]) -> tuple[int, int]:
    """Runs COMMAND; its exit status and its own peak resident set size in bytes."""
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024  # Linux reports kibibytes


def _paths_of(log: str, reason: str) -> list[str]:
    """The paths of the URLs the log says were skipped for REASON."""
    return [urlsplit(match).path for match in re.findall(rf"Skipped (\S+): {reason} \(", log)]


def test_xml_entities_are_never_expanded_or_fetched(hostile, tmp_path):
    result = crawl(
        hostile,
        tmp_path / "news.db",
        "sitemap=/laughs-sitemap.xml,/xxe-sitemap.xml",
        "feed=/laughs-feed.xml,/xxe-feed.xml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The good entry beside each attack was read and its article stored.
    assert result.stored_paths(hostile.base) == set(GOOD_PATHS[:4])
    # No entity was resolved: not the billion laughs, not the local file, not the URL.
    requested = hostile.requests()
    assert not any("/xxe-probe" in line or SECRET in line or "lollol" in line for line in requested)
    assert result.rows(
        "SELECT COUNT(*) FROM articles WHERE text LIKE ? OR url LIKE ?",
        f"%{SECRET}%",
        f"%{SECRET}%",
    ) == [(0,)]
    # Each listing's declarations were removed, logged and counted; the references left
    # behind stayed unexpanded: the sitemaps' became the site's root, the feeds' the
    # literal reference (feedparser keeps it as text). Each such URL is one 404.
    reasons = result.reasons()
    assert reasons.pop("xml_entities") == 4
    assert set(reasons) <= {"http_404"}
    missing = set(_paths_of(result.stderr, "http_404"))
    assert missing and all(path == "/" or path.startswith("/&") for path in missing), missing
    for listing in ("laughs-sitemap", "xxe-sitemap", "laughs-feed", "xxe-feed"):
        assert result.logged(f"{hostile.base}/{listing}.xml", "xml_entities")


def test_compression_bombs_and_corrupt_gzip(hostile, tmp_path):
    result = crawl(
        hostile,
        tmp_path / "news.db",
        f"sitemap=/bomb-sitemap.xml.gz,/corrupt-sitemap.xml.gz,/list.xml?/bomb.html&{GOOD_PATHS[5]}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert GOOD_PATHS[5] in result.stored_paths(hostile.base)
    reasons = result.reasons()
    assert reasons["too_large"] == 2
    assert reasons["invalid_sitemap"] == 1
    # A 256 MiB gzip bomb served with Content-Encoding: stopped by DOWNLOAD_MAXSIZE.
    assert result.logged(f"{hostile.base}/bomb.html", "too_large")
    assert "exceeded DOWNLOAD_MAXSIZE (16777216 B) during decompression" in result.stderr
    # The same bomb as a .xml.gz sitemap: stopped by NEWS_LISTING_MAX_BYTES.
    assert result.logged(f"{hostile.base}/bomb-sitemap.xml.gz", "too_large")
    assert result.logged(f"{hostile.base}/corrupt-sitemap.xml.gz", "invalid_sitemap")


def test_malformed_feeds_and_sitemaps(hostile, tmp_path):
    result = crawl(
        hostile,
        tmp_path / "news.db",
        "feed=/truncated-feed.xml,/garbage-feed.xml,/html-feed.xml,/linkless-feed.xml",
        "sitemap=/text-sitemap.xml,/rss-as-sitemap.xml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The truncated feed's whole first item, and the linkless feed's good item, are read.
    assert result.stored_paths(hostile.base) == {GOOD_PATHS[4], GOOD_PATHS[0]}
    reasons = result.reasons()
    assert reasons["not_a_feed"] == 2
    # The linkless item, and the truncated feed's cut-off one (feedparser keeps no link
    # that was cut off).
    assert reasons["feed_entry_without_link"] == 2
    assert result.logged(f"{hostile.base}/truncated-feed.xml", "feed_entry_without_link")
    # Words are no plain-text sitemap; the RSS feed given as a sitemap is read as a feed.
    assert reasons["invalid_sitemap"] == 1
    assert result.logged(f"{hostile.base}/garbage-feed.xml", "not_a_feed")
    assert result.logged(f"{hostile.base}/html-feed.xml", "not_a_feed")
    assert result.logged(f"{hostile.base}/text-sitemap.xml", "invalid_sitemap")
    assert "127.0.0.1 /rss-as-sitemap.xml" in hostile.requests()


@pytest.mark.slow
def test_a_sitemap_of_a_million_urls_is_streamed_and_cut_off(hostile, tmp_path):
    limits = (
        "NEWS_SITEMAP_MAX_URLS=300",
        "NEWS_LISTING_MAX_BYTES=64000000",
        "CONCURRENT_REQUESTS_PER_DOMAIN=16",
        "LOG_LEVEL=WARNING",
    )
    args = [
        "crawl",
        "news",
        "-a",
        f"sitemap={hostile.base}/huge-sitemap.xml,{hostile.base}/list.xml?{GOOD_PATHS[0]}",
    ]
    small = ["crawl", "news", "-a", f"sitemap={hostile.base}/rss-as-sitemap.xml"]
    baseline_status, baseline_rss = crawl_rss(
        scrapy_command(small, tmp_path / "small.db", *FAST, *limits)
    )
    status, rss = crawl_rss(scrapy_command(args, tmp_path / "news.db", *FAST, *limits))
    assert baseline_status == 0 and status == 0
    result = Crawled(status, "", "", tmp_path / "news.db")
    assert result.stored_paths(hostile.base) == {GOOD_PATHS[0]}
    assert result.reasons() == {"sitemap_truncated": 1, "http_404": 300}
    assert sum(" /n/" in line for line in hostile.requests()) == 300
    # Streaming: the run costs less over the baseline than the tree that parsing the whole
    # document at once would build, before a single request (measured here, with lxml).
    load = f"from urllib.request import urlopen; body = urlopen('{hostile.base}/huge-sitemap.xml')"
    _status, tree_rss = crawl_rss(
        [sys.executable, "-c", f"import lxml.etree; {load}; lxml.etree.fromstring(body.read())"]
    )
    _status, empty_rss = crawl_rss([sys.executable, "-c", "import lxml.etree, urllib.request"])
    assert rss - baseline_rss < tree_rss - empty_rss, (rss, baseline_rss, tree_rss, empty_rss)


@pytest.mark.slow
def test_a_sitemap_index_fanning_out_to_half_a_million_urls_stays_small_and_stops_at_once(
    hostile, tmp_path
):
    """Ten sitemaps of 50,000 URLs: entries reach the scheduler only as the downloader
    takes them, so memory stays flat and a stop signal ends the run at once."""
    limits = ("CONCURRENT_REQUESTS_PER_DOMAIN=16", "LOG_LEVEL=WARNING")
    small = ["crawl", "news", "-a", f"sitemap={hostile.base}/rss-as-sitemap.xml"]
    _status, baseline_rss = crawl_rss(scrapy_command(small, tmp_path / "small.db", *FAST, *limits))
    args = ["crawl", "news", "-a", f"sitemap={hostile.base}/fanout-index.xml"]
    command = scrapy_command(args, tmp_path / "news.db", *FAST, *limits)
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pages = 0
    while pages < 3000 and proc.poll() is None:
        time.sleep(0.2)
        pages = sum(" /n/" in line for line in hostile.requests())
    proc.send_signal(signal.SIGTERM)
    _pid, status, usage = os.wait4(proc.pid, 0)
    after = sum(" /n/" in line for line in hostile.requests()) - pages
    assert os.waitstatus_to_exitcode(status) == 3  # interrupted
    # Only what the downloader already held was finished: nothing was waiting in line.
    assert after <= 32, after
    # All 500,000 requests queued up front took 1.4 GB; the bodies of the ten sitemaps
    # being read take some 30 MB.
    assert usage.ru_maxrss * 1024 - baseline_rss < 300 * 1024 * 1024, (
        usage.ru_maxrss,
        baseline_rss,
    )


def test_links_to_other_schemes_and_hosts_are_not_followed(hostile, tmp_path):
    result = crawl(
        hostile,
        tmp_path / "news.db",
        "start=/schemes.html",
        "sitemap=/schemes-sitemap.xml,/schemes-index.xml",
        "feed=/schemes-feed.xml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stored_paths(hostile.base) == set(GOOD_PATHS[1:4])
    reasons = result.reasons()
    # javascript:, data:, file: and ftp: links from the sitemap and the index. The page's
    # javascript: and data: links are not links to Scrapy's link extractor, which passes
    # on only its file: and ftp: links. The feed's four are no article links at all to
    # feedparser, which keeps only safe schemes.
    assert reasons["unsupported_scheme"] == 10
    assert result.logged(f"{hostile.base}/schemes-feed.xml", "feed_entry_without_link")
    assert "(4 entries have no link to an article)" in result.stderr
    # From the sitemap, the index and the feed; the page's is only a statistic, as
    # pages link to other sites all the time.
    assert reasons["offsite"] == 3
    assert "'news/listings/links_offsite': 1" in result.stderr
    for scheme in ("javascript", "data", "file", "ftp"):
        assert f"unsupported_scheme (scheme '{scheme}')" in result.stderr
    assert result.logged("http://elsewhere.example/story.html", "offsite")
    assert not any("passwd" in line or "x.html" in line for line in hostile.requests())


def test_redirect_loops_chains_and_escapes(hostile, tmp_path):
    result = crawl(hostile, tmp_path / "news.db", "sitemap=/redirects-sitemap.xml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stored_paths(hostile.base) == {GOOD_PATHS[4]}  # reached through /to-good
    reasons = result.reasons()
    assert reasons["redirect_loop"] == 1
    assert reasons["too_many_redirects"] == 1
    assert reasons["unsupported_scheme"] == 1
    assert reasons["offsite"] == 1
    assert result.logged(f"{hostile.base}/loop-a", "redirect_loop")
    assert result.logged(f"{hostile.base}/chain/10", "too_many_redirects")
    assert result.logged(f"{hostile.base}/to-file", "unsupported_scheme")
    assert result.logged(f"{hostile.base}/to-elsewhere", "offsite")
    # REDIRECT_MAX_TIMES (10) redirects were followed, then the chain was given up.
    assert (
        max(int(line.rsplit("/", 1)[1]) for line in hostile.requests() if " /chain/" in line) == 10
    )


def test_endless_pagination_and_nested_sitemap_indexes_stop(hostile, tmp_path):
    result = crawl(
        hostile,
        tmp_path / "news.db",
        "start=/page/0",
        "sitemap=/sitemap-chain/0",
        settings=("NEWS_FOLLOW_DEPTH=3",),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pages = [line.split()[1] for line in hostile.requests() if " /page/" in line]
    assert sorted(pages) == ["/page/0", "/page/1", "/page/2", "/page/3"]
    chain = [line.split()[1] for line in hostile.requests() if " /sitemap-chain/" in line]
    assert sorted(chain) == [f"/sitemap-chain/{n}" for n in range(4)]
    assert result.logged(f"{hostile.base}/sitemap-chain/3", "sitemap_depth")
    assert result.reasons()["sitemap_depth"] == 1
    # The articles linked from the pages within reach were stored.
    assert result.stored_paths(hostile.base) == set(GOOD_PATHS[0:3])
    assert "'news/listings/links_beyond_depth'" in result.stderr


def test_slow_drip_and_stalled_responses_time_out(hostile, tmp_path):
    result = crawl(
        hostile, tmp_path / "news.db", "sitemap=/slow-sitemap.xml", settings=("DOWNLOAD_TIMEOUT=2",)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stored_paths(hostile.base) == {GOOD_PATHS[5]}
    assert result.reasons() == {"timeout": 2}
    assert result.logged(f"{hostile.base}/drip.html", "timeout")
    assert result.logged(f"{hostile.base}/stall.html", "timeout")
    [(status, errors)] = result.rows("SELECT status, errors FROM crawl_runs")
    assert (status, errors) == ("finished", 0)


def test_entities_behind_a_long_comment_are_defused_too(hostile, tmp_path):
    result = crawl(
        hostile,
        tmp_path / "news.db",
        "sitemap=/late-laughs-sitemap.xml",
        "feed=/late-laughs-feed.xml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stored_paths(hostile.base) == set(GOOD_PATHS[:2])
    assert not any("lollol" in line for line in hostile.requests())
    reasons = result.reasons()
    assert reasons.pop("xml_entities") == 2
    assert set(reasons) <= {"http_404"}
    missing = set(_paths_of(result.stderr, "http_404"))
    assert missing and all(path == "/" or path.startswith("/&") for path in missing), missing


def test_a_source_url_of_another_scheme_is_refused_alone(tmp_path):
    with serving(tmp_path / "requests.log") as site:
        sources = tmp_path / "sites.toml"
        sources.write_text(
            "[[site]]\n"
            'start = ["javascript:alert(1)", "ftp://files.example.org/news/"]\n'
            'feeds = ["mailto:desk@example.org", "' + site.base + '/rss.xml"]\n',
            "utf-8",
        )
        command = scrapy_command(
            ["crawl", "news", "-a", f"sources={sources}"], tmp_path / "news.db", *FAST
        )
        proc = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
        )
        result = Crawled(proc.returncode, proc.stdout, proc.stderr, tmp_path / "news.db")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        for url in ("javascript:alert(1)", "ftp://files.example.org/news/"):
            assert result.logged(url, "unsupported_scheme"), url
        assert result.reasons()["unsupported_scheme"] == 3
        # The feed beside them was read, and its articles stored.
        assert result.rows("SELECT COUNT(*) FROM articles")[0][0] > 0
        assert not any("ftp" in line for line in site.requests())


def test_json_ld_nested_a_thousand_deep_costs_nothing(tmp_path):
    log = tmp_path / "site" / "requests.log"
    with serving(log, "static_site.py") as site:
        www = Www(log)
        deep = '{"@type": "NewsArticle", "about": ' + "[" * 1000 + "]" * 1000 + "}"
        nested = '{"a": ' * 1000 + "1" + "}" * 1000
        urls = []
        for number, (name, block) in enumerate(
            (("en-heatwave", deep), ("en-library", nested), ("fr-crue", None))
        ):
            page = article(name)
            if block is not None:
                page = page.replace(
                    "</head>", f'<script type="application/ld+json">{block}</script></head>'
                )
            www.put(f"/a/{number}.html", page)
            urls.append((f"{site.base}/a/{number}.html", None))
        www.put("/sitemap.xml", urlset(urls))
        result = run_scrapy(
            ["crawl", "news", "-a", f"sitemap={site.base}/sitemap.xml"], tmp_path / "news.db", *FAST
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RecursionError" not in result.stderr and "Traceback" not in result.stderr
    assert result.rows("SELECT COUNT(*) FROM articles") == [(3,)]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::", False),  # 6to4 of 192.168.1.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254, the cloud metadata host
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:808:808::1", True),
        ("2001:4860:4860::8888", True),
        ("8.8.8.8", True),
    ],
)
def test_private_addresses_inside_ipv6_forms_are_private(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_a_body_shorter_than_its_content_length_is_named(hostile, tmp_path):
    result = crawl(hostile, tmp_path / "news.db", "sitemap=/short-sitemap.xml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.logged(f"{hostile.base}/short.html", "data_loss")
    assert "Content-Length" in result.stderr.split(f"{hostile.base}/short.html: data_loss (")[1]
    assert result.reasons().get("data_loss") == 1
    assert result.stored_paths(hostile.base) == {GOOD_PATHS[5]}

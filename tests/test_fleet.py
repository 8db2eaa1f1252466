"""A fleet: several `scrapy crawl news` processes with one Redis frontier and one PostgreSQL
store, over a site whose every answer takes 30-80 ms, so that the processes overlap. Its
faults (a kill, Redis away) are in test_fleet_faults.py."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.conftest import FAST, ROOT, run_scrapy, scrapy_command
from tests.webpages import EVERY_NAME, article, sample, sitemap_index, urlset

SYNDICATED = EVERY_NAME[:8]  # exact copies on the partner's host
EDITED = EVERY_NAME[8:14]  # lightly edited copies on the partner's host
PRINTED = EVERY_NAME[14:18]  # the publisher's own print pages
BOTH_HOSTS = ("-a", "allowed=127.0.0.1,localhost")


@dataclass
class FleetSite:
    base: str
    partner: str
    log: Path
    urls: list[str]

    def requests(self) -> Counter[str]:
        return Counter(path for path, _agent in self.answered())

    def answered(self) -> list[tuple[str, str]]:
        """(path, user agent) of every request answered, in order."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [(line.split(" ", 2)[1], line.split(" ", 2)[2]) for line in lines]


def write_pages(root: Path) -> None:
    for name in EVERY_NAME:
        (root / "a").mkdir(parents=True, exist_ok=True)
        (root / "a" / f"{name}.html").write_text(article(name), "utf-8")
    (root / "partner").mkdir(exist_ok=True)
    (root / "print").mkdir(exist_ok=True)
    for name in SYNDICATED:
        (root / "partner" / f"{name}.html").write_text(article(name), "utf-8")
    for name in EDITED:
        _title, paragraphs = sample(name)
        edited = [f"{paragraphs[0]} The agency added a line to this copy.", *paragraphs[1:]]
        page = article(name, body=edited)
        (root / "partner" / f"edit-{name}.html").write_text(page, "utf-8")
    for name in PRINTED:
        (root / "print" / f"{name}.html").write_text(article(name), "utf-8")


@contextmanager
def fleet_site(tmp_path: Path, delay: tuple[str, str] = ("0.03", "0.08")) -> Iterator[FleetSite]:
    """The site, served by benchmarks/slow_site.py; its sitemap index names three sitemaps,
    the partner's pages are on the host "localhost" (another site), the publisher's on
    127.0.0.1."""
    root = tmp_path / "www"
    write_pages(root)
    log = tmp_path / "requests.log"
    options = ("--delay", *delay, "--log", str(log))
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "slow_site.py"), str(root), *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    base, partner = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    urls = [f"{base}/a/{name}.html" for name in EVERY_NAME]
    urls += [f"{partner}/partner/{name}.html" for name in SYNDICATED]
    urls += [f"{partner}/partner/edit-{name}.html" for name in EDITED]
    urls += [f"{base}/print/{name}.html" for name in PRINTED]
    parts = [urls[i::3] for i in range(3)]
    for number, part in enumerate(parts):
        (root / f"sitemap-{number}.xml").write_text(urlset([(u, None) for u in part]), "utf-8")
    index = sitemap_index([f"{base}/sitemap-{number}.xml" for number in range(3)])
    (root / "sitemap.xml").write_text(index, "utf-8")
    try:
        yield FleetSite(base, partner, log, urls)
    finally:
        server.kill()
        server.wait()


def fleet_command(
    site: FleetSite, store: str, frontier: tuple[str, str], *settings: str
) -> list[str]:
    url, name = frontier
    return scrapy_command(
        ["crawl", "news", "-a", f"sitemap={site.base}/sitemap.xml", *BOTH_HOSTS],
        Path("unused.db"),
        *FAST,
        "ROBOTSTXT_OBEY=False",
        "CONCURRENT_REQUESTS_PER_DOMAIN=8",
        f"NEWS_DATABASE_URL={store}",
        f"NEWS_FRONTIER_URL={url}",
        f"NEWS_FRONTIER_NAME={name}",
        # Longer than a process takes to start on a busy machine: one that starts late
        # must still find the fleet there, or it would begin a crawl of its own.
        "NEWS_FRONTIER_IDLE=8",
        *settings,
    )


def start(command: list[str], log: Path) -> subprocess.Popen[str]:
    out = log.open("w")
    return subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)


def wait_all(processes: list[subprocess.Popen[str]], timeout: float = 240) -> list[int]:
    deadline = time.monotonic() + timeout
    codes = []
    for process in processes:
        codes.append(process.wait(timeout=max(1.0, deadline - time.monotonic())))
    return codes


def rows(store: str, sql: str) -> list[tuple]:
    engine = create_engine(store)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def execute(store: str, sql: str) -> None:
    engine = create_engine(store)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def check_store(store: str, site: FleetSite) -> dict[str, tuple]:
    """The invariants of a one-at-a-time order, and every listed URL stored once. Returns
    the articles by URL: (id, duplicate_of, duplicate_kind, story_id)."""
    stored = {
        url: (id_, dup, kind, story)
        for url, id_, dup, kind, story in rows(
            store, "SELECT url, id, duplicate_of, duplicate_kind, story_id FROM articles"
        )
    }
    assert sorted(stored) == sorted(site.urls)
    # No text has two canonical articles (an edited copy's text may have none).
    assert (
        rows(
            store,
            "SELECT content_hash FROM articles GROUP BY content_hash "
            "HAVING count(*) FILTER (WHERE duplicate_of IS NULL) > 1",
        )
        == []
    )
    # Every duplicate points at a canonical article, in its story.
    assert (
        rows(
            store,
            "SELECT a.id FROM articles a LEFT JOIN articles c ON a.duplicate_of = c.id "
            "WHERE a.duplicate_of IS NOT NULL AND (c.id IS NULL OR c.duplicate_of IS NOT NULL "
            "OR c.story_id <> a.story_id)",
        )
        == []
    )
    # Articles are in live stories, whose counts are their articles'.
    assert (
        rows(
            store,
            "SELECT a.id FROM articles a JOIN stories s ON s.id = a.story_id "
            "WHERE s.merged_into IS NOT NULL",
        )
        == []
    )
    assert (
        rows(
            store,
            "SELECT s.id FROM stories s WHERE s.merged_into IS NULL AND s.article_count <> "
            "(SELECT count(*) FROM articles a WHERE a.story_id = s.id)",
        )
        == []
    )
    ids = {value[0]: url for url, value in stored.items()}
    for name in SYNDICATED:
        # One of the two is the canonical, whichever was decided first; the other is a
        # syndicated copy of it.
        pair = [stored[f"{site.base}/a/{name}.html"], stored[f"{site.partner}/partner/{name}.html"]]
        canonical = [entry for entry in pair if entry[1] is None]
        copies = [entry for entry in pair if entry[1] is not None]
        assert len(canonical) == 1 and copies[0][1] == canonical[0][0], name
        assert copies[0][2] == "syndicated"
    for name in EDITED:
        pair = [
            stored[f"{site.base}/a/{name}.html"],
            stored[f"{site.partner}/partner/edit-{name}.html"],
        ]
        assert sorted(entry[1] is None for entry in pair) == [False, True], name
        assert {entry[2] for entry in pair} == {None, "syndicated"}
    for name in PRINTED:
        copy = stored[f"{site.base}/print/{name}.html"]
        original = stored[f"{site.base}/a/{name}.html"]
        pair = [copy, original]
        assert sorted(entry[1] is None for entry in pair) == [False, True], name
        assert {entry[2] for entry in pair} == {None, "exact"}
    assert set(ids) == {value[0] for value in stored.values()}
    return stored


def wait_for(site: FleetSite, whose: Callable[[str], bool], count: int) -> None:
    """Until COUNT requests of agents WHOSE were answered (at most two minutes)."""
    deadline = time.monotonic() + 120
    while sum(whose(agent) for _path, agent in site.answered()) < count:
        assert time.monotonic() < deadline, "the crawl did not start"
        time.sleep(0.05)


def keys_left(frontier: tuple[str, str]) -> list[bytes]:
    server = redis.Redis.from_url(frontier[0])
    try:
        return list(server.scan_iter(f"newsdedup:{frontier[1]}:*"))
    finally:
        server.close()


@pytest.mark.slow  # 15 s or more: several crawls
def test_three_processes_are_one_crawl(tmp_path, postgres_url, frontier):
    with fleet_site(tmp_path) as site:
        command = fleet_command(site, postgres_url, frontier)
        processes = [start(command, tmp_path / f"process-{n}.log") for n in range(3)]
        codes = wait_all(processes)
        logs = [(tmp_path / f"process-{n}.log").read_text() for n in range(3)]
        requested = site.requests()

    assert codes == [0, 0, 0], "\n".join(log[-3000:] for log in logs)
    for log in logs:
        assert "Traceback" not in log
    # The listings were read once, and every page fetched by exactly one process.
    listings = ["/sitemap.xml", "/sitemap-0.xml", "/sitemap-1.xml", "/sitemap-2.xml"]
    assert [requested[path] for path in listings] == [1, 1, 1, 1]
    pages = Counter({path: n for path, n in requested.items() if path not in listings})
    assert sorted(pages.values()) == [1] * len(site.urls)
    check_store(postgres_url, site)
    # One row per process, with one fleet id; the report shows them as one crawl.
    runs = rows(
        postgres_url,
        "SELECT fleet_id, status, items_new + items_exact_duplicate "
        "+ items_near_duplicate FROM crawl_runs ORDER BY id",
    )
    assert len(runs) == 3 and len({run[0] for run in runs}) == 1 and runs[0][0]
    assert [run[1] for run in runs] == ["finished"] * 3
    assert sum(run[2] for run in runs) == len(site.urls)
    report = run_scrapy(["report"], tmp_path / "unused.db", f"NEWS_DATABASE_URL={postgres_url}")
    assert report.returncode == 0, report.stderr
    assert f"fleet {runs[0][0]}, 3 processes:" in report.stdout
    assert report.stdout.count("(pid ") == 3
    # The last process out cleared the frontier: the next crawl starts afresh.
    assert keys_left(frontier) == []


@pytest.mark.slow
def test_a_second_fleet_fetches_only_what_is_new(tmp_path, postgres_url, frontier):
    with fleet_site(tmp_path) as site:
        command = fleet_command(site, postgres_url, frontier)
        assert wait_all([start(command, tmp_path / "first.log")]) == [0]
        before = site.requests()
        processes = [start(command, tmp_path / f"again-{n}.log") for n in range(2)]
        codes = wait_all(processes)
        again = site.requests() - before

    assert codes == [0, 0]
    # The listings again, once; no stored page.
    assert sorted(again) == ["/sitemap-0.xml", "/sitemap-1.xml", "/sitemap-2.xml", "/sitemap.xml"]
    assert all(n == 1 for n in again.values())
    check_store(postgres_url, site)


def test_a_fleet_needs_a_shared_store(tmp_path, frontier):
    url, name = frontier
    result = run_scrapy(
        ["crawl", "news", "-a", "sitemap=http://127.0.0.1:9/sitemap.xml"],
        tmp_path / "news.db",
        f"NEWS_FRONTIER_URL={url}",
        f"NEWS_FRONTIER_NAME={name}",
    )
    assert result.returncode == 1
    assert "a fleet needs a store that many processes can write" in result.stderr
    assert "Traceback" not in result.stderr


def test_runs_share_a_postgres_store_without_a_frontier(tmp_path, postgres_url):
    """Two ingests of one folder at once: neither waits or exits 4, and each document is
    stored once, by whichever decided first."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in EVERY_NAME:
        title, paragraphs = sample(name)
        (folder / f"{name}.txt").write_text("\n\n".join([title, *paragraphs]), "utf-8")
        (folder / f"copy-{name}.txt").write_text("\n\n".join([title, *paragraphs]), "utf-8")
    command = scrapy_command(
        ["crawl", "files", "-a", f"path={folder}"],
        tmp_path / "unused.db",
        f"NEWS_DATABASE_URL={postgres_url}",
    )
    processes = [start(command, tmp_path / f"files-{n}.log") for n in range(2)]
    codes = wait_all(processes)
    logs = [(tmp_path / f"files-{n}.log").read_text() for n in range(2)]
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    stored = rows(postgres_url, "SELECT count(*), count(DISTINCT url) FROM articles")
    assert stored == [(2 * len(EVERY_NAME), 2 * len(EVERY_NAME))]
    assert (
        rows(
            postgres_url,
            "SELECT content_hash FROM articles GROUP BY content_hash "
            "HAVING count(*) FILTER (WHERE duplicate_of IS NULL) <> 1",
        )
        == []
    )
    runs = rows(
        postgres_url,
        "SELECT status, items_new + items_exact_duplicate + "
        "items_near_duplicate, items_already_stored FROM crawl_runs",
    )
    assert [run[0] for run in runs] == ["finished", "finished"]
    # Every document was stored by one run and found stored by the other.
    assert sum(run[1] for run in runs) == 2 * len(EVERY_NAME)
    assert sum(run[1] + run[2] for run in runs) == 4 * len(EVERY_NAME)


def test_a_fleet_shares_out_warc_files(tmp_path, postgres_url, frontier):
    from tests.test_warc import Warc, page

    folder = tmp_path / "warcs"
    folder.mkdir()
    names = EVERY_NAME[:16]
    for number in range(8):
        warc = Warc(folder / f"CC-NEWS-20261130{number:06d}-0000{number}.warc.gz")
        for name in names[number * 2 : number * 2 + 2]:
            warc.response(f"https://news.example.org/{name}", page(name))
        warc.close()
    url, crawl_name = frontier
    command = scrapy_command(
        ["crawl", "warc", "-a", f"path={folder}"],
        tmp_path / "unused.db",
        f"NEWS_DATABASE_URL={postgres_url}",
        f"NEWS_FRONTIER_URL={url}",
        f"NEWS_FRONTIER_NAME={crawl_name}",
        "NEWS_FRONTIER_IDLE=1",
    )
    processes = [start(command, tmp_path / f"warc-{n}.log") for n in range(2)]
    codes = wait_all(processes)
    logs = [(tmp_path / f"warc-{n}.log").read_text() for n in range(2)]
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    # Each file was read by one process: the other skipped it.
    read = [_stat(log, "news/warc/files") for log in logs]
    elsewhere = [_stat(log, "news/warc/files_elsewhere") for log in logs]
    assert sum(read) == 8 and [r + e for r, e in zip(read, elsewhere, strict=True)] == [8, 8]
    assert rows(postgres_url, "SELECT count(*), count(DISTINCT url) FROM articles") == [(16, 16)]
    assert rows(postgres_url, "SELECT count(*) FROM warc_files WHERE finished_at IS NOT NULL") == [
        (8,)
    ]
    assert keys_left(frontier) == []


def _stat(log: str, name: str) -> int:
    found = re.search(rf"'{re.escape(name)}': (\d+)", log)
    return int(found.group(1)) if found else 0


def test_dupes_apply_waits_for_no_crawl_on_a_shared_store(tmp_path, postgres_url):
    """A shared store takes crawls side by side, but not a rewrite of their decisions."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in EVERY_NAME[:6]:
        title, paragraphs = sample(name)
        (folder / f"{name}.txt").write_text("\n\n".join([title, *paragraphs]), "utf-8")
    store = f"NEWS_DATABASE_URL={postgres_url}"
    crawl = run_scrapy(["crawl", "files", "-a", f"path={folder}"], tmp_path / "unused.db", store)
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    apply = ["dupes", "--threshold", "0.6", "--apply"]
    # A crawl of this process's (alive, on this host) is running.
    execute(
        postgres_url,
        "INSERT INTO crawl_runs (spider, arguments, started_at, status, items_new, "
        "items_exact_duplicate, items_near_duplicate, items_already_stored, items_dropped, "
        "dropped_reasons, errors, pid, hostname) VALUES ('news', '{}', now(), 'running', "
        f"0, 0, 0, 0, 0, '{{}}', 0, {os.getpid()}, '{socket.gethostname()}')",
    )
    refused = run_scrapy(apply, tmp_path / "unused.db", store)
    assert refused.returncode == 4
    assert "is still running" in refused.stderr
    assert rows(postgres_url, "SELECT count(*) FROM crawl_runs WHERE spider = 'dupes'") == [(0,)]
    execute(postgres_url, "UPDATE crawl_runs SET status = 'finished' WHERE status = 'running'")
    applied = run_scrapy(apply, tmp_path / "unused.db", store)
    assert applied.returncode == 0, applied.stderr[-2000:]
    assert rows(postgres_url, "SELECT status FROM crawl_runs WHERE spider = 'dupes'") == [
        ("finished",)
    ]

"""A fleet's faults: a process killed outright, Redis unreachable at start, restarted or
gone mid-crawl. The processes, servers and site are real, as in test_fleet.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.conftest import run_scrapy
from tests.test_fleet import (
    FleetSite,
    check_store,
    fleet_command,
    fleet_site,
    keys_left,
    rows,
    start,
    wait_all,
    wait_for,
)


def test_an_unreachable_frontier_stops_the_run_with_its_reason(tmp_path, postgres_url):
    started = time.monotonic()
    result = run_scrapy(
        ["crawl", "news", "-a", "sitemap=http://127.0.0.1:9/sitemap.xml"],
        tmp_path / "unused.db",
        f"NEWS_DATABASE_URL={postgres_url}",
        "NEWS_FRONTIER_URL=redis://127.0.0.1:9/0",
        "NEWS_FRONTIER_RETRY=2",
    )
    assert result.returncode == 1
    assert "NEWS_FRONTIER_URL: the frontier at redis://127.0.0.1:9/0 did not answer" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 120
    # The store was not even opened: the process stopped before it would claim it.
    assert rows(postgres_url, "SELECT to_regclass('crawl_runs')") == [(None,)]


@pytest.mark.slow
def test_a_killed_process_loses_only_its_pages_in_flight(tmp_path, postgres_url, frontier):
    with fleet_site(tmp_path, ("0.2", "0.4")) as site:
        command = fleet_command(site, postgres_url, frontier)
        # The victim starts first, slowly (two requests at a time), and names itself to the
        # site, so that its fetches can be told apart; the others join once it crawls, and
        # it is killed once they do too.
        victim = start(
            [*command, "-s", "USER_AGENT=victim", "-s", "CONCURRENT_REQUESTS=2"],
            tmp_path / "victim.log",
        )
        wait_for(site, lambda agent: agent == "victim", 3)
        processes = [start(command, tmp_path / f"process-{n}.log") for n in range(2)]
        wait_for(site, lambda agent: agent != "victim", 3)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        survivors = wait_all(processes)
        rerun = wait_all([start(command, tmp_path / "rerun.log")])
        rerun_log = (tmp_path / "rerun.log").read_text()
        requested = site.requests()
        answered = site.answered()

    assert survivors == [0, 0]
    assert rerun == [0], rerun_log[-3000:]
    after = check_store(postgres_url, site)
    # What the victim fetched and had not committed, and only that, was fetched again.
    listings = {"/sitemap.xml", "/sitemap-0.xml", "/sitemap-1.xml", "/sitemap-2.xml"}
    [victim_run] = rows(postgres_url, f"SELECT id FROM crawl_runs WHERE pid = {victim.pid}")
    victim_stored = {
        url.split("/", 3)[3]
        for (url,) in rows(postgres_url, f"SELECT url FROM articles WHERE run_id = {victim_run[0]}")
    }
    victim_fetched = {
        path.lstrip("/") for path, agent in answered if agent == "victim" and path not in listings
    }
    refetched = {
        path.lstrip("/") for path, n in requested.items() if n > 1 and path not in listings
    }
    assert victim_fetched, "the victim was killed before it fetched anything"
    assert refetched == victim_fetched - victim_stored
    assert len(after) == len(site.urls)
    # The rerun closed the victim's row; its own run finished.
    statuses = rows(postgres_url, "SELECT pid, status FROM crawl_runs ORDER BY id")
    assert (victim.pid, "killed") in statuses
    assert statuses[-1][1] == "finished"
    assert keys_left(frontier) == []


@contextmanager
def own_redis(port: int) -> Iterator[subprocess.Popen[str]]:
    """A Redis server of the test's own on PORT, which the test may stop and start."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("NEWSDEDUP_REQUIRE_REDIS"):
            pytest.fail("redis-server not found")
        pytest.skip("redis-server not found")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        text=True,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield server
    finally:
        server.kill()
        server.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def crawl_through_outage(
    tmp_path: Path, store: str, retry: str, *, back: bool
) -> tuple[FleetSite, list[int], list[str], list[int]]:
    """Two processes on a Redis of the test's own, which dies once they crawl; BACK starts
    it again (empty) two seconds later, and runs the crawl once more after them. Returns
    the site, the processes' exit codes and logs, and the rerun's exit code."""
    port = free_port()
    frontier = (f"redis://127.0.0.1:{port}/0", "outage")
    with fleet_site(tmp_path, ("0.2", "0.4")) as site:
        command = fleet_command(site, store, frontier, f"NEWS_FRONTIER_RETRY={retry}")
        with own_redis(port) as server:
            processes = [start(command, tmp_path / f"process-{n}.log") for n in range(2)]
            wait_for(site, lambda agent: True, 10)
            server.kill()
            server.wait()
            if not back:
                codes = wait_all(processes, timeout=120)
        rerun = []
        if back:
            time.sleep(2)
            with own_redis(port):
                codes = wait_all(processes)
                rerun = wait_all([start(command, tmp_path / "rerun.log")])
    logs = [(tmp_path / f"process-{n}.log").read_text() for n in range(2)]
    return site, codes, logs, rerun


@pytest.mark.slow
def test_a_fleet_rides_out_a_redis_restart(tmp_path, postgres_url):
    site, codes, logs, rerun = crawl_through_outage(tmp_path, postgres_url, "60", back=True)
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    assert all("Frontier unreachable" in log for log in logs)
    assert all("Traceback" not in log for log in logs)
    # Redis kept nothing: what was queued was fetched by the next crawl.
    assert rerun == [0]
    check_store(postgres_url, site)


@pytest.mark.slow
def test_a_fleet_without_its_redis_stops_with_the_reason(tmp_path, postgres_url):
    _site, codes, logs, _rerun = crawl_through_outage(tmp_path, postgres_url, "3", back=False)
    assert codes == [1, 1], "\n".join(log[-3000:] for log in logs)
    for log in logs:
        assert "Stopping the run: the frontier at redis://127.0.0.1:" in log
        assert "did not answer for 3 s (NEWS_FRONTIER_RETRY)" in log
        assert "Traceback" not in log
    # What was stored stays, and is sound.
    assert rows(postgres_url, "SELECT status FROM crawl_runs") == [("failed",), ("failed",)]

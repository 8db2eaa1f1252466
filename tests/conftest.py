"""Shared fixtures: real `scrapy crawl` runs in a subprocess, stores in tmp_path."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
SAMPLE = ROOT / "samples" / "news"
# Politeness is for other people's servers; the test sites are our own, on loopback.
FAST = ("AUTOTHROTTLE_ENABLED=False", "DOWNLOAD_DELAY=0", "NEWS_ALLOW_PRIVATE_ADDRESSES=True")


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    database: Path

    def rows(self, sql: str, *params: object) -> list[tuple]:
        with closing(sqlite3.connect(self.database)) as conn:
            return conn.execute(sql, params).fetchall()


def scrapy_command(args: list[str], database: Path, *settings: str) -> list[str]:
    """`python -m scrapy ARGS` against the store at DATABASE, with extra `-s` settings."""
    command = [sys.executable, "-m", "scrapy", *args]
    for setting in (f"NEWS_DATABASE_URL=sqlite:///{database}", *settings):
        command += ["-s", setting]
    return command


def run_scrapy(
    args: list[str], database: Path, *settings: str, timeout: float = 300
) -> CrawlResult:
    proc = subprocess.run(
        scrapy_command(args, database, *settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CrawlResult(proc.returncode, proc.stdout, proc.stderr, database)


@dataclass
class Site:
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@contextmanager
def serving(log: Path, script: str = "site_server.py") -> Iterator[Site]:
    """A test site (tests/site_server.py unless SCRIPT names another) in a process of its
    own, on a free loopback port, logging the requests it gets to LOG."""
    log.parent.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / script), str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        yield Site(int(proc.stdout.readline()), log)
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "store" / "news.db"


@pytest.fixture
def crawl_files(database: Path) -> Callable[..., CrawlResult]:
    """Run `scrapy crawl files -a path=DIR` into the test's store."""

    def crawl(path: Path | str, *settings: str) -> CrawlResult:
        return run_scrapy(["crawl", "files", "-a", f"path={path}"], database, *settings)

    return crawl


def require_seeds() -> None:
    """The seed corpus is not part of this repository: skip without it, except in CI."""
    if not SEEDS.is_dir():
        if os.environ.get("NEWSDEDUP_REQUIRE_SEEDS"):
            pytest.fail(f"seed corpus not found at {SEEDS}")
        pytest.skip(f"seed corpus not found at {SEEDS}")


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A copy of the shared seed corpus."""
    require_seeds()
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target

"""Shared fixtures: real `scrapy crawl` runs in a subprocess, stores in tmp_path."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

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


# Crawls clean in the crawl process unless a test asks for workers: starting two workers
# costs more CPU than a test's few documents, and the pool has tests of its own
# (test_workers.py, test_workerpool.py, test_worker_imports.py, the crash trials).
ONE_PROCESS = "NEWS_WORKERS=1"
# What the crawls keep between runs (the unpacked language model, datasketch's permutations
# and layouts): named by what they depend on, so every test run on this machine can share
# it, and it stays out of the user's own cache.
CACHE = f"NEWS_CACHE_DIR={Path(tempfile.gettempdir()) / 'newsdedup-test-cache'}"
# The shipped default, one worker per core, for the tests that exercise it.
DEFAULT_WORKERS = "NEWS_WORKERS=0"


def scrapy_command(args: list[str], database: Path, *settings: str) -> list[str]:
    """`python -m scrapy ARGS` against the store at DATABASE, with extra `-s` settings (which
    override the tests' own defaults)."""
    command = [sys.executable, "-m", "scrapy", *args]
    for setting in (f"NEWS_DATABASE_URL=sqlite:///{database}", ONE_PROCESS, CACHE, *settings):
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


@pytest.fixture(scope="session")
def sample_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus crawled once per test process (see sample_store)."""
    database = tmp_path_factory.mktemp("sample") / "news.db"
    result = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    assert result.returncode == 0, result.stderr[-2000:]
    return database


@pytest.fixture
def sample_store(sample_master: Path, tmp_path: Path) -> CrawlResult:
    """A store holding the sample corpus, as one `scrapy crawl files` run left it: a copy of
    the session's, for the test to read or change."""
    database = tmp_path / "sample" / "news.db"
    database.parent.mkdir()
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{sample_master}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{database}{suffix}")
    return CrawlResult(0, "", "", database)


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


# PostgreSQL for the tests that show the store works beyond SQLite; CI requires it.
SERVER_URL = os.environ.get(
    "NEWSDEDUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own for the test, dropped afterwards."""
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"newsdedup_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("NEWSDEDUP_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL not reachable at {SERVER_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {SERVER_URL}")
    try:
        yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


# Redis for the fleet's tests; CI requires it, as it does PostgreSQL.
REDIS_URL = os.environ.get("NEWSDEDUP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def frontier() -> Iterator[tuple[str, str]]:
    """The frontier's URL, and a crawl name of the test's own (its keys are deleted after)."""
    import redis

    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        server.ping()
    except redis.ConnectionError as exc:
        if os.environ.get("NEWSDEDUP_REQUIRE_REDIS"):
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    name = f"test-{uuid.uuid4().hex[:12]}"
    try:
        yield REDIS_URL, name
    finally:
        for key in server.scan_iter(f"newsdedup:{name}:*"):
            server.delete(key)
        server.close()

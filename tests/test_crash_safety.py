"""A crawl killed with SIGKILL mid-run, then rerun, stores what one clean run stores."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import DEFAULT_WORKERS, ROOT, run_scrapy, scrapy_command
from tests.corpus import write_corpus


def count_rows(database: Path, table: str = "articles") -> int:
    """Rows in a table, or 0 before the run has created it. Reads to the end and closes, so
    that the test holds no lock on the store it watches."""
    if not database.exists():
        return 0
    with closing(sqlite3.connect(database, timeout=1)) as conn:
        try:
            [(count,)] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchall()
        except sqlite3.OperationalError:
            return 0
    return int(count)


def kill_after(corpus: Path, database: Path, rows: int) -> None:
    command = scrapy_command(
        ["crawl", "files", "-a", f"path={corpus}"],
        database,
        "NEWS_BATCH_SIZE=25",
        "LOG_LEVEL=WARNING",
        DEFAULT_WORKERS,
    )
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if count_rows(database) >= rows:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def decisions(database: Path) -> dict[str, tuple[str | None, float | None]]:
    with closing(sqlite3.connect(database)) as conn:
        rows = conn.execute(
            "SELECT a.url, c.url, a.similarity FROM articles a "
            "LEFT JOIN articles c ON c.id = a.duplicate_of"
        ).fetchall()
    return {url: (canonical, similarity) for url, canonical, similarity in rows}


@pytest.mark.slow
def test_killed_runs_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 300)
    clean = run_scrapy(
        ["crawl", "files", "-a", f"path={corpus}"], tmp_path / "clean.db", DEFAULT_WORKERS
    )
    assert clean.returncode == 0, clean.stderr[-2000:]
    expected = decisions(clean.database)
    assert len(expected) == 300
    assert sum(1 for canonical, _ in expected.values() if canonical is not None) >= 90

    database = tmp_path / "killed.db"
    for target in (30, 110, 220):
        kill_after(corpus, database, target)
    rerun = run_scrapy(["crawl", "files", "-a", f"path={corpus}"], database, DEFAULT_WORKERS)
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    assert decisions(database) == expected
    assert rerun.rows("PRAGMA integrity_check") == [("ok",)]
    assert rerun.rows("PRAGMA foreign_key_check") == []
    assert rerun.rows(
        "SELECT COUNT(*) FROM articles a LEFT JOIN stories s ON s.id = a.story_id "
        "WHERE s.id IS NULL"
    ) == [(0,)]
    # The killed runs never reached their end; each next run found its lock stale.
    statuses = [status for (status,) in rerun.rows("SELECT status FROM crawl_runs ORDER BY id")]
    assert statuses == ["killed", "killed", "killed", "finished"]


def check_consistent(database: Path) -> None:
    """What must hold of a store at any moment, even right after a SIGKILL."""
    if not database.exists():
        return
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        try:
            conn.execute("SELECT 1 FROM articles LIMIT 1")
        except sqlite3.OperationalError:
            return  # killed before the schema was created
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        dangling = conn.execute(
            "SELECT COUNT(*) FROM articles a "
            "LEFT JOIN articles c ON c.id = a.duplicate_of "
            "LEFT JOIN stories s ON s.id = a.story_id "
            "WHERE (a.duplicate_of IS NOT NULL AND c.id IS NULL) OR s.id IS NULL"
        ).fetchall()
        assert dangling == [(0,)]
        [(urls, distinct)] = conn.execute("SELECT COUNT(url), COUNT(DISTINCT url) FROM articles")
        assert urls == distinct


def run_rows(database: Path) -> int:
    """Rows in crawl_runs: the killed run has claimed the store once this grows."""
    return count_rows(database, "crawl_runs")


BATCH = 50
KILL_CORPUS = 1000
# Where each trial's kill lands, made to happen rather than hoped for: a condition on the
# store that the test waits for, then SIGKILL. The kill comes right after the condition, so
# it lands in the next step of the run: reading, extracting, mid-batch or committing.
KILL_POINTS: list[tuple[str, Callable[[Path, int], bool]]] = [
    ("at once, before the store exists", lambda _db, _runs: True),
    ("once the store file exists (schema being written)", lambda db, _runs: db.exists()),
    ("once the run has claimed the store", lambda db, runs: run_rows(db) > runs),
    *[
        (f"after {n} committed articles", lambda db, _runs, n=n: count_rows(db) >= n)
        for n in (BATCH, 3 * BATCH, 8 * BATCH, 13 * BATCH, 19 * BATCH)
    ],
    ("once every article is committed (closing)", lambda db, _runs: count_rows(db) >= KILL_CORPUS),
]


@pytest.mark.slow
def test_kills_at_every_step_of_a_run_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    """A 1,000-article ingest SIGKILLed at each step of a run (start-up, migration, the run's
    claim, mid-ingest after a given number of committed batches, close), then rerun: every
    time, the store is what one clean run makes."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, KILL_CORPUS)
    command = ["crawl", "files", "-a", f"path={corpus}"]
    settings = (f"NEWS_BATCH_SIZE={BATCH}", "LOG_LEVEL=WARNING", DEFAULT_WORKERS)
    clean = run_scrapy(command, tmp_path / "clean.db", *settings)
    assert clean.returncode == 0, clean.stderr[-2000:]
    expected = decisions(clean.database)
    assert len(expected) == KILL_CORPUS

    for trial, (where, ready) in enumerate(KILL_POINTS):
        database = tmp_path / f"trial-{trial}.db"
        runs_before = run_rows(database)
        proc = subprocess.Popen(
            scrapy_command(command, database, *settings),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while not ready(database, runs_before):
            assert proc.poll() is None, f"{where}: the run ended before its kill"
            assert time.monotonic() < deadline, f"{where}: never reached"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check_consistent(database)
        rerun = run_scrapy(command, database, *settings)
        assert rerun.returncode == 0, (where, rerun.stderr[-2000:])
        check_consistent(database)
        assert decisions(database) == expected, where


STOP_CORPUS = 3000


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_commits_and_closes_the_run_as_interrupted(tmp_path, signum):
    corpus = tmp_path / "corpus"
    # Large enough that the run is still reading when the signal lands, on a slow machine.
    write_corpus(corpus, STOP_CORPUS)
    database = tmp_path / "news.db"
    command = scrapy_command(
        ["crawl", "files", "-a", f"path={corpus}"],
        database,
        "NEWS_BATCH_SIZE=1000",
        "NEWS_COMMIT_INTERVAL=0.2",
        DEFAULT_WORKERS,
    )
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # Wait until the run is under way, then ask it to stop as cron's timeout or Ctrl-C would.
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if count_rows(database):
            break
        time.sleep(0.05)
    proc.send_signal(signum)
    stdout, _stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3
    with closing(sqlite3.connect(database)) as conn:
        [(status, reason, new, exact, near)] = conn.execute(
            "SELECT status, finish_reason, items_new, items_exact_duplicate, "
            "items_near_duplicate FROM crawl_runs"
        ).fetchall()
    stored = count_rows(database)
    assert (status, reason) == ("interrupted", "shutdown")
    # Everything counted was committed, although the batch size was never reached.
    assert 0 < stored == new + exact + near < STOP_CORPUS
    assert "interrupted" in stdout.splitlines()[-1]

"""A crawl killed with SIGKILL mid-run, then rerun, stores what one clean run stores."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_scrapy, scrapy_command

VOCABULARY = [
    "council",
    "market",
    "river",
    "station",
    "budget",
    "school",
    "harvest",
    "contract",
    "energy",
    "hospital",
    "museum",
    "strike",
    "weather",
    "factory",
    "minister",
    "village",
    "bridge",
    "festival",
    "library",
    "court",
    "election",
    "port",
    "company",
    "farmer",
    "teacher",
    "police",
    "storm",
    "tram",
    "water",
    "price",
    "housing",
    "airport",
    "research",
]


def write_corpus(folder: Path, count: int) -> None:
    """Distinct articles, and every third one a lightly edited copy of an earlier one."""
    folder.mkdir()
    rng = random.Random(7)
    texts: list[str] = []
    for index in range(count):
        if index % 3 == 2:
            source = texts[rng.randrange(len(texts))]
            text = source.replace(" the ", " a ", 2) + f"\nUpdated at {index} hours."
        else:
            paragraphs = [
                " ".join(rng.choice(VOCABULARY) for _ in range(40)).capitalize() + "."
                for _ in range(5)
            ]
            text = f"Report number {index}\n" + "\n".join(paragraphs)
        texts.append(text)
        (folder / f"{index:04d}.txt").write_text(text, "utf-8")


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


def test_killed_runs_lose_and_duplicate_nothing(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 300)
    clean = run_scrapy(["crawl", "files", "-a", f"path={corpus}"], tmp_path / "clean.db")
    assert clean.returncode == 0, clean.stderr[-2000:]
    expected = decisions(clean.database)
    assert len(expected) == 300
    assert sum(1 for canonical, _ in expected.values() if canonical is not None) >= 90

    database = tmp_path / "killed.db"
    for target in (30, 110, 220):
        kill_after(corpus, database, target)
    rerun = run_scrapy(["crawl", "files", "-a", f"path={corpus}"], database)
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


KILL_TRIALS = 20
KILL_SEED = int(os.environ.get("NEWSDEDUP_KILL_SEED", "20261122"))


def test_twenty_kills_at_random_moments_lose_and_duplicate_nothing(tmp_path):
    """A 1,000-article ingest SIGKILLed at a random moment (start-up, migration, mid-batch,
    commit or close), then rerun: every time, the store is what one clean run makes."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1000)
    command = ["crawl", "files", "-a", f"path={corpus}"]
    settings = ("NEWS_BATCH_SIZE=50", "LOG_LEVEL=WARNING")
    # The clean run, watched: when its first and its last articles were committed.
    clean_db, clean_log = tmp_path / "clean.db", tmp_path / "clean.log"
    started = time.monotonic()
    with clean_log.open("w") as log:
        clean = subprocess.Popen(
            scrapy_command(command, clean_db, *settings), cwd=ROOT, stdout=log, stderr=log
        )
        first_rows: float | None = None
        all_rows: float | None = None
        while clean.poll() is None:
            rows, now = count_rows(clean_db), time.monotonic() - started
            if rows and first_rows is None:
                first_rows = now
            if rows >= 1000 and all_rows is None:
                all_rows = now
            time.sleep(0.05)
    duration = time.monotonic() - started
    assert clean.returncode == 0, clean_log.read_text()[-2000:]
    expected = decisions(clean_db)
    assert len(expected) == 1000
    assert first_rows is not None
    ingest_end = all_rows if all_rows is not None else duration

    rng = random.Random(KILL_SEED)  # NEWSDEDUP_KILL_SEED replays another sequence
    stored_at_kill = []
    for trial in range(KILL_TRIALS):
        database = tmp_path / f"trial-{trial}.db"
        # Every other kill at any moment of a run (start-up, migration, mid-batch, commit,
        # close); the others while the clean run was committing: start-up and close take
        # more than half of a run this size, and the mid-ingest kills are the hard case.
        delay = rng.uniform(first_rows, ingest_end) if trial % 2 else rng.uniform(0, duration)
        proc = subprocess.Popen(
            scrapy_command(command, database, *settings),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        where = f"trial {trial}, killed after {delay:.2f} s (seed {KILL_SEED})"
        check_consistent(database)
        stored_at_kill.append(count_rows(database))
        rerun = run_scrapy(command, database, *settings)
        assert rerun.returncode == 0, (where, rerun.stderr[-2000:])
        check_consistent(database)
        assert decisions(database) == expected, where
    # Most kills landed mid-ingest, not only before the first commit or after the last.
    assert sum(0 < n < 1000 for n in stored_at_kill) >= KILL_TRIALS // 2, stored_at_kill


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

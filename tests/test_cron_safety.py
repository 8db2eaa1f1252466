"""Runs never overlap on one store; a lock left by a killed run is taken over."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE, run_scrapy, scrapy_command
from tests.corpus import write_corpus
from tests.test_crash_safety import count_rows


@pytest.mark.slow
def test_second_run_exits_nonzero_while_the_first_finishes(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 900)
    database = tmp_path / "news.db"
    first = subprocess.Popen(
        # Small batches: the first commit comes early, and most of the run is still ahead
        # while the second run starts up.
        scrapy_command(["crawl", "files", "-a", f"path={corpus}"], database, "NEWS_BATCH_SIZE=20"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while count_rows(database) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    first_out, _ = first.communicate(timeout=300)

    assert second.returncode == 4
    errors = [line for line in second.stderr.splitlines() if "] ERROR:" in line]
    assert len(errors) == 1
    assert f"run 1 (files, pid {first.pid} on {socket.gethostname()}" in errors[0]
    assert "is still running" in errors[0]
    assert "busy" in second.stdout.splitlines()[-1]

    assert first.returncode == 0
    assert "run 1 finished" in first_out.splitlines()[-1]
    with closing(sqlite3.connect(database)) as conn:
        runs = conn.execute("SELECT id, status FROM crawl_runs").fetchall()
        sources = conn.execute("SELECT DISTINCT source FROM articles").fetchall()
    assert runs == [(1, "finished")]  # the refused run wrote nothing
    assert sources == [(str(corpus),)]


def test_a_stale_lock_is_taken_over(tmp_path):
    database = tmp_path / "news.db"
    first = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    assert first.returncode == 0
    # A run that was killed outright: still 'running', and its process is gone.
    finished = subprocess.Popen(["true"])
    finished.wait()
    hold(database, finished.pid)

    second = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "is marked running but its process is gone: closing it as killed" in second.stderr
    assert second.rows("SELECT id, status, finish_reason FROM crawl_runs ORDER BY id") == [
        (1, "finished", "finished"),
        (2, "killed", "stale lock"),
        (3, "finished", "finished"),
    ]


@pytest.mark.slow
def test_progress_lines_while_a_long_ingest_runs(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 600)
    result = run_scrapy(
        ["crawl", "files", "-a", f"path={corpus}"],
        tmp_path / "news.db",
        "NEWS_PROGRESS_INTERVAL=0.5",
        "NEWS_BATCH_SIZE=50",
    )
    assert result.returncode == 0
    progress = [line for line in result.stderr.splitlines() if "Progress:" in line]
    assert len(progress) >= 2
    assert "documents/min); committed" in progress[-1]
    assert count_rows(tmp_path / "news.db") == 600


def hold(database: Path, pid: int) -> None:
    """A `running` row in the ledger for process PID on this host: the store is held."""
    with closing(sqlite3.connect(database)) as conn:
        conn.execute(
            "INSERT INTO crawl_runs (spider, arguments, started_at, status, items_new, "
            "items_exact_duplicate, items_near_duplicate, items_already_stored, items_dropped, "
            "dropped_reasons, errors, pid, hostname) VALUES ('files', '{}', "
            "'2026-01-01 00:00:00', 'running', 0, 0, 0, 0, 0, '{}', 0, ?, ?)",
            (pid, socket.gethostname()),
        )
        conn.commit()


@pytest.fixture
def holder() -> Iterator[subprocess.Popen[bytes]]:
    """A live process to hold the store in the ledger, as a running crawl would."""
    proc = subprocess.Popen(["sleep", "600"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_held_store_is_refused_with_exit_4_and_nothing_written(sample_store, holder):
    database = sample_store.database
    hold(database, holder.pid)
    second = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    assert second.returncode == 4
    errors = [line for line in second.stderr.splitlines() if "] ERROR:" in line]
    assert len(errors) == 1
    assert f"run 2 (files, pid {holder.pid} on {socket.gethostname()}" in errors[0]
    assert "is still running" in errors[0]
    assert "busy" in second.stdout.splitlines()[-1]
    assert sample_store.rows("SELECT id, status FROM crawl_runs") == [
        (1, "finished"),
        (2, "running"),
    ]


def waiting(proc: subprocess.Popen[str]) -> list[str]:
    """The log lines of PROC up to the one that says it waits for the store."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "Waiting up to" in line:
            return seen
    raise AssertionError("the run never waited: " + "".join(seen[-20:]))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_a_lock_wait_at_once(sample_store, holder, signum):
    database = sample_store.database
    hold(database, holder.pid)
    command = scrapy_command(
        ["crawl", "files", "-a", f"path={SAMPLE}"], database, "NEWS_LOCK_WAIT=600"
    )
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = waiting(proc)
    assert f"run 2 (files, pid {holder.pid}" in lines[-1]
    proc.send_signal(signum)
    # Far below the 600 s it would otherwise wait; the bound only stops a hang.
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr[-2000:]
    assert f"{signal.Signals(signum).name} while waiting for the store" in stderr
    assert "interrupted" in stdout.splitlines()[-1]
    assert "Traceback" not in stderr
    assert sample_store.rows("SELECT COUNT(*) FROM crawl_runs") == [(2,)]


def test_a_run_that_waits_goes_on_once_the_holder_is_gone(sample_store, holder, tmp_path):
    database = sample_store.database
    hold(database, holder.pid)
    folder = tmp_path / "new"
    write_corpus(folder, 3)
    command = scrapy_command(
        ["crawl", "files", "-a", f"path={folder}"], database, "NEWS_LOCK_WAIT=600"
    )
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    waiting(proc)
    holder.kill()
    holder.wait()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-2000:]
    assert "2 new, 0 exact duplicates, 1 near duplicates" in stdout.splitlines()[-1]
    assert sample_store.rows("SELECT id, status FROM crawl_runs ORDER BY id") == [
        (1, "finished"),
        (2, "killed"),
        (3, "finished"),
    ]

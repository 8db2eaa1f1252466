"""Runs never overlap on one store; a lock left by a killed run is taken over."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import time
from contextlib import closing

from tests.conftest import ROOT, SAMPLE, run_scrapy, scrapy_command
from tests.corpus import write_corpus
from tests.test_crash_safety import count_rows


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
    dead_pid = finished.pid
    with closing(sqlite3.connect(database)) as conn:
        conn.execute(
            "INSERT INTO crawl_runs (spider, arguments, started_at, status, items_new, "
            "items_exact_duplicate, items_near_duplicate, items_already_stored, items_dropped, "
            "dropped_reasons, errors, pid, hostname) VALUES ('files', '{}', "
            "'2026-01-01 00:00:00', 'running', 0, 0, 0, 0, 0, '{}', 0, ?, ?)",
            (dead_pid, socket.gethostname()),
        )
        conn.commit()

    second = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "closing it as killed and taking over the store" in second.stderr
    assert second.rows("SELECT id, status, finish_reason FROM crawl_runs ORDER BY id") == [
        (1, "finished", "finished"),
        (2, "killed", "stale lock"),
        (3, "finished", "finished"),
    ]


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

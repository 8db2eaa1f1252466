"""NEWS_WORKERS: extraction in worker processes stores what one process stores, in the same
order, and a worker that dies loses nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE, run_scrapy, scrapy_command
from tests.corpus import write_corpus
from tests.test_crash_safety import count_rows, decisions

COLUMNS = "url, duplicate_of, similarity, story_id, title, text, language, published_at"


def test_workers_store_exactly_what_one_process_stores(tmp_path):
    stores = {}
    for workers in ("1", "2"):
        result = run_scrapy(
            ["crawl", "files", "-a", f"path={SAMPLE}"],
            tmp_path / f"w{workers}.db",
            f"NEWS_WORKERS={workers}",
        )
        assert result.returncode == 0, result.stderr[-2000:]
        stores[workers] = result.rows(f"SELECT {COLUMNS} FROM articles ORDER BY id")
        # Worker CPU time is counted for the cleaning stage either way.
        assert "'news/cpu/cleaning': " in result.stderr
        assert ("Started 2 cleaning workers" in result.stderr) == (workers == "2")
        # The start-up heap is frozen out of the garbage collector's reach (FrozenStartupHeap).
        frozen = re.search(r"'news/gc/frozen_objects': (\d+)", result.stderr)
        assert frozen is not None and int(frozen.group(1)) > 10_000
    assert len(stores["1"]) == 38
    assert stores["2"] == stores["1"]  # same ids, same canonical articles, same text


def workers_of(pid: int) -> list[int]:
    """The pool's worker processes of a crawl, known by their boot line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"pipelines.workerpool" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_a_worker_killed_mid_crawl_loses_nothing(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 400)
    clean = run_scrapy(
        ["crawl", "files", "-a", f"path={corpus}"], tmp_path / "clean.db", "NEWS_WORKERS=1"
    )
    assert clean.returncode == 0

    database = tmp_path / "news.db"
    command = scrapy_command(
        ["crawl", "files", "-a", f"path={corpus}"], database, "NEWS_WORKERS=2", "NEWS_BATCH_SIZE=20"
    )
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while count_rows(database) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    victims = workers_of(proc.pid)
    assert victims, "no worker process found"
    os.kill(victims[0], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)

    assert proc.returncode == 0, stderr[-3000:]
    assert "A cleaning worker died" in stderr
    assert count_rows(database) == 400
    assert decisions(database) == decisions(clean.database)
    assert "0 dropped, 0 errors" in stdout.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["mid_crawl", "while_workers_start"])
def test_workers_leave_with_a_crawl_killed_outright(tmp_path, moment):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 600)
    database = tmp_path / "news.db"
    command = scrapy_command(["crawl", "files", "-a", f"path={corpus}"], database, "NEWS_WORKERS=2")
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    if moment == "mid_crawl":
        while count_rows(database) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    else:
        # The workers start with the first document and take about a second to import:
        # killed as soon as both exist, the crawl is gone before they are ready.
        while len(workers_of(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
    workers = workers_of(proc.pid)
    assert len(workers) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]

"""The cleaning stage's worker pool, with real spawned processes: results, failures, deaths."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pipelines.workerpool import WorkerError, WorkerPool


def start(marker_dir: str) -> None:
    os.environ["POOL_TEST_MARKERS"] = marker_dir


def work(action: str, value: Any, name: str) -> tuple[int, int]:
    """What a task does in the worker: answer, raise, or kill the worker (always, or only
    the first time it is tried)."""
    if action == "slow":
        time.sleep(0.02)
    if action == "length":  # a document larger than the pipe's buffer
        time.sleep(0.01)
        return len(value), os.getpid()
    if action == "raise":
        raise ValueError(f"bad value {value}")
    if action == "die":
        os._exit(3)
    if action == "die_once":
        marker = Path(os.environ["POOL_TEST_MARKERS"]) / name
        if not marker.exists():
            marker.touch()
            os._exit(3)
    return value * 2, os.getpid()


def second_death(args: tuple[object, ...]) -> str:
    return f"lost {args[2]}"


def run_pool(tmp_path: Path, tasks: list[tuple[str, Any, str]]) -> tuple[list[Any], list[int]]:
    async def main() -> tuple[list[Any], list[int]]:
        pool = WorkerPool(2, start, work, (str(tmp_path),), on_second_death=second_death)
        try:
            futures = [pool.submit(*task) for task in tasks]
            results = await asyncio.gather(*futures, return_exceptions=True)
        finally:
            pids = pool.pids
            pool.shutdown()
        return results, pids

    return asyncio.run(main())


def test_results_come_back_for_every_task_from_both_workers(tmp_path):
    results, pids = run_pool(tmp_path, [("slow", i, f"t{i}") for i in range(100)])
    assert [r[0] for r in results] == [i * 2 for i in range(100)]
    assert len({r[1] for r in results}) == 2
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # shut down


def test_documents_larger_than_the_pipe_buffer_mix_with_small_ones(tmp_path):
    sizes = [10, 3_000_000, 500, 200_000, 20, 1_000_000, 5] * 4
    tasks = [("length", "x" * size, f"t{i}") for i, size in enumerate(sizes)]
    results, _pids = run_pool(tmp_path, tasks)
    assert [r[0] for r in results] == sizes


def test_a_failing_task_fails_alone_and_a_dying_one_is_tried_once_more(tmp_path, caplog):
    tasks = [("double", i, f"t{i}") for i in range(20)]
    tasks[3] = ("raise", 3, "t3")
    tasks[7] = ("die_once", 7, "t7")  # kills its worker, then succeeds in a new one
    tasks[12] = ("die", 12, "t12")  # kills a worker each time it is tried
    results, _pids = run_pool(tmp_path, tasks)

    assert isinstance(results[3], WorkerError)
    assert "ValueError: bad value 3" in str(results[3])
    assert results[7][0] == 14
    assert results[12] == "lost t12"
    assert [r[0] for i, r in enumerate(results) if i not in (3, 12)] == [
        i * 2 for i in range(20) if i not in (3, 12)
    ]
    deaths = [r.getMessage() for r in caplog.records if "worker died" in r.getMessage()]
    assert len(deaths) == 3  # t7 once, t12 twice
    assert "exit code 3" in deaths[0]


@pytest.mark.parametrize("pending", [0, 5])
def test_shutdown_cancels_what_has_not_started(tmp_path, pending):
    async def main() -> list[bool]:
        pool = WorkerPool(1, start, work, (str(tmp_path),), on_second_death=second_death)
        futures = [pool.submit("double", i, f"t{i}") for i in range(pending)]
        pool.shutdown()  # before the worker is even ready
        return [f.cancelled() for f in futures]

    assert asyncio.run(main()) == [True] * pending

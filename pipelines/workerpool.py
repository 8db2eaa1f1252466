"""The cleaning stage's worker processes, fed one document at a time through a pipe each.

The crawl's event loop sends each document and reads each result itself, when the worker's
pipe becomes readable: no thread of the crawl process takes part. ``concurrent.futures``'
pool hands every task through two threads of its own (a manager and a queue feeder), and
in a crawl of 10,000 pages with two workers those hand-offs cost the crawl process about
1.4 ms of CPU a page.

A worker is a new Python process that imports only what its tasks need. It is not started
by multiprocessing's spawn, which runs the crawl's main script again in every worker: for
``scrapy crawl`` that is Scrapy's command line, Twisted and the rest of Scrapy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

logger = logging.getLogger(__name__)

# A busy worker is sent its next document too when that is at most this large (pickled), so
# that it starts on it the moment it is done, even while the crawl's event loop is busy with
# a commit. Larger documents wait for an idle worker: the pipe's kernel buffer (about 200 KB)
# holds a small one whole, and a write that did not fit would block the event loop until the
# busy worker read it.
PREFETCH_BYTES = 128 * 1024

# What a worker sends once it has imported everything and is waiting for documents.
READY = "ready"

# A worker's first lines (``python -c``; argv: its end of the pipe, the crawl's pid). The
# crawl's sys.path comes first, so that modules import there as they do in the crawl.
BOOT = (
    "import sys; from multiprocessing.connection import Connection; "
    "conn = Connection(int(sys.argv[1])); sys.path[:] = conn.recv(); "
    "from pipelines.workerpool import serve; serve(conn, int(sys.argv[2]))"
)


class WorkerError(Exception):
    """A task raised in the worker; the message is the worker's traceback."""


@dataclass(frozen=True)
class _Raised:
    traceback: str


@dataclass
class _Task:
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    deaths: int = 0
    payload: Any = None  # the pickled args, made once


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    # Sent and not answered yet, in the order sent: the worker answers in that order, and
    # works on the first.
    tasks: deque[_Task] = field(default_factory=deque)


class WorkerPool:
    """SIZE worker processes, each of which runs ``start(*initargs)``, then ``work(*args)``
    for every task submitted with those ARGS (the third, when there is one, names the task
    in the log: a URL).

    A worker that dies (killed, out of memory, a crash in a parser) loses only the task it
    was working on: a new worker is started and the task is tried once more (a task sent
    to it and not started yet goes back to the queue); a task that kills a second worker
    gets ``on_second_death(task args)`` as its result.
    """

    def __init__(
        self,
        size: int,
        start: Callable[..., None],
        work: Callable[..., Any],
        initargs: tuple[Any, ...],
        on_second_death: Callable[[tuple[Any, ...]], Any],
    ) -> None:
        # Passed to the workers by reference: module-level functions.
        self.initargs = (start, work, *initargs)
        self.on_second_death = on_second_death
        self.loop = asyncio.get_running_loop()
        self.workers: list[_Worker] = []
        self.queue: deque[_Task] = deque()
        self.closing = False
        # All started now, not one per waiting task: their imports (about a second each)
        # overlap the next downloads.
        for _ in range(size):
            self._spawn()

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self.workers]

    def submit(self, *args: Any) -> asyncio.Future[Any]:
        """The result of ``work(*ARGS)`` in a worker; tasks start in the order submitted."""
        task = _Task(args, self.loop.create_future())
        self.queue.append(task)
        self._dispatch()
        return task.future

    def shutdown(self) -> None:
        """Cancel the tasks not started, and stop every worker. A crawl closes its stages
        once no item is in them, so no worker is normally busy by then; one that is gets
        terminated."""
        self.closing = True
        while self.queue:
            self.queue.popleft().future.cancel()
        for worker in self.workers:
            self.loop.remove_reader(worker.conn.fileno())
            with contextlib.suppress(OSError):  # already gone
                worker.conn.send(None)
        for worker in self.workers:
            try:
                worker.process.wait(timeout=0 if worker.tasks else 5)
            except subprocess.TimeoutExpired:
                worker.process.terminate()
                worker.process.wait()
            worker.conn.close()
            for task in worker.tasks:
                task.future.cancel()
        self.workers = []

    def _spawn(self) -> None:
        here, there = multiprocessing.Pipe()
        # Not the crawl's standard input; its standard error, for a traceback.
        process = subprocess.Popen(
            [sys.executable, "-c", BOOT, str(there.fileno()), str(os.getpid())],
            pass_fds=(there.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        # Only the worker holds its end now, so its death reads as the end of the pipe.
        there.close()
        # Both fit the pipe's buffer, so the worker reads them whenever it is up.
        here.send(sys.path)
        here.send(self.initargs)
        worker = _Worker(process, here)
        self.workers.append(worker)
        self.loop.add_reader(here.fileno(), self._readable, worker)

    def _dispatch(self) -> None:
        while self.queue:
            task = self.queue[0]
            if task.future.done():  # cancelled while it waited
                self.queue.popleft()
                continue
            if task.payload is None:
                try:
                    task.payload = ForkingPickler.dumps(task.args)
                except Exception as exc:  # it cannot be pickled: that task fails alone
                    self.queue.popleft()
                    task.future.set_exception(exc)
                    continue
            worker = self._worker_for(task.payload)
            if worker is None:
                return
            self.queue.popleft()
            worker.tasks.append(task)
            try:
                # A worker with nothing to do is waiting in recv(), so even a large
                # document's write lasts only as long as the worker takes to read it.
                worker.conn.send_bytes(task.payload)
            except OSError:
                self._lost(worker)

    def _worker_for(self, payload: Any) -> _Worker | None:
        """An idle worker, or else a worker with one task that can take a small next one."""
        ready = [w for w in self.workers if w.ready]
        idle = next((w for w in ready if not w.tasks), None)
        if idle is not None or len(payload) > PREFETCH_BYTES:
            return idle
        return next((w for w in ready if len(w.tasks) == 1), None)

    def _readable(self, worker: _Worker) -> None:
        try:
            message: Any = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        except Exception as exc:  # a result that cannot be unpickled here
            message = _Raised(f"unreadable result: {exc!r}")
        if message == READY and not worker.ready:
            worker.ready = True
        elif worker.tasks:
            task = worker.tasks.popleft()
            if not task.future.done():
                if isinstance(message, _Raised):
                    task.future.set_exception(WorkerError(message.traceback))
                else:
                    task.future.set_result(message)
        self._dispatch()

    def _lost(self, worker: _Worker) -> None:
        """WORKER died: start another; its current task gets one more try, and the task
        sent after it, not started, goes back to the queue as it was."""
        self.loop.remove_reader(worker.conn.fileno())
        worker.conn.close()
        with contextlib.suppress(subprocess.TimeoutExpired):  # its exit code is then None
            worker.process.wait(timeout=1)
        self.workers.remove(worker)
        if self.closing:
            for task in worker.tasks:
                task.future.cancel()
            return
        current = worker.tasks[0] if worker.tasks else None
        where = f" (at {current.args[2]})" if current is not None and len(current.args) > 2 else ""
        logger.warning(
            "A cleaning worker died (pid %s, exit code %s); starting a new one%s",
            worker.process.pid,
            worker.process.returncode,
            where,
        )
        if current is not None:
            current.deaths += 1
            if current.deaths >= 2:
                worker.tasks.popleft()
                if not current.future.done():
                    current.future.set_result(self.on_second_death(current.args))
        self.queue.extendleft(reversed(worker.tasks))
        self._spawn()
        self._dispatch()


def serve(conn: Connection, parent: int) -> None:
    """A worker's life, after BOOT: ``start(*args)``, READY, then one result of ``work`` per
    task, until the crawl sends None or is gone."""
    # Ctrl-C reaches the whole process group; the crawl process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    start, work, *args = conn.recv()
    start(*args)
    conn.send(READY)
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the crawl is gone
            os._exit(0)
        if task is None:
            return
        try:
            result = work(*task)
        except Exception:  # the task fails, as it would have in the crawl process
            result = _Raised(traceback.format_exc())
        conn.send(result)


def _exit_with_parent(parent: int) -> None:
    """A crawl killed outright (SIGKILL, OOM) cannot stop its pool. An idle worker sees its
    pipe close; one still importing or working on a task leaves here, once its parent is
    gone. The crawl's pid comes from the crawl: a crawl killed while this worker was still
    starting is already gone here, and os.getppid() would name the new parent."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)

"""The run ledger (``crawl_runs``) and the single-run lock it carries."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from db.base import StoreBase, StoreError, crawl_runs
from db.engine import make_engine
from db.records import RunCounts, utcnow

logger = logging.getLogger(__name__)


class StoreBusy(StoreError):
    """Another run is writing to the store."""


class WaitInterrupted(StoreError):
    """The wait for another run to end was cut short (the message says by what)."""


# How often a wait looks at the store again, and whether it was asked to stop.
POLL_SECONDS = 1.0
STOP_POLL_SECONDS = 0.1
Interrupted = Callable[[], str | None]


def _never() -> str | None:
    return None


def _pause(deadline: float, interrupted: Interrupted) -> None:
    """Sleep until the next look at the store, or the deadline; raise WaitInterrupted as
    soon as INTERRUPTED names a reason."""
    until = min(deadline, time.monotonic() + POLL_SECONDS)
    while (left := until - time.monotonic()) > 0:
        if (reason := interrupted()) is not None:
            raise WaitInterrupted(reason)
        time.sleep(min(STOP_POLL_SECONDS, left))
    if (reason := interrupted()) is not None:
        raise WaitInterrupted(reason)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


def is_live(run: Row[Any], host: str) -> bool:
    """A running row is live unless its process is known to be gone: on another host we
    cannot tell, so it counts as live; a row with no pid predates pid tracking."""
    if run.hostname not in (None, host):
        return True
    return bool(run.pid) and process_alive(run.pid)


def busy_message(run: Row[Any], where: str) -> str:
    return (
        f"run {run.id} ({run.spider}, pid {run.pid} on {run.hostname}, "
        f"started {run.started_at:%Y-%m-%d %H:%M:%S} UTC) is still running on {where}"
    )


def _live_run(engine: Engine) -> Row[Any] | None:
    try:
        with engine.connect() as conn:
            running = conn.execute(select(crawl_runs).where(crawl_runs.c.status == "running")).all()
    except SQLAlchemyError:
        return None  # no ledger yet, or one too old to name its runs' processes
    host = socket.gethostname()
    return next((run for run in running if is_live(run, host)), None)


def _say_waiting(run: Row[Any], where: str, wait: float) -> bool:
    logger.info("Waiting up to %g s: %s", wait, busy_message(run, where))
    return True


class RunLedger(StoreBase):
    """Each run's row: written ``running`` as it starts (which claims the store), completed
    with its counts when it ends."""

    def start_run(
        self,
        spider: str,
        arguments: Mapping[str, object],
        *,
        wait: float = 0.0,
        interrupted: Interrupted = _never,
        fleet_id: str | None = None,
    ) -> int:
        """Write a ``running`` row and commit it: the run is visible, and holds the store.

        On a store with one writer (SQLite) runs never overlap: while another run on the
        store is alive, wait up to ``wait`` seconds, then raise :class:`StoreBusy` naming
        it. A shared store (PostgreSQL) takes every run at once. Either way, a ``running``
        row whose process is gone from this host (killed, or the machine rebooted) is
        closed as ``killed``; on SQLite, that stale lock is taken over. INTERRUPTED is
        asked often while waiting: a reason it returns ends the wait with
        :class:`WaitInterrupted`. FLEET_ID joins the rows of one fleet's processes.
        """
        deadline = time.monotonic() + wait
        said = False
        while True:
            holder = self._claim(spider, arguments, fleet_id)
            if isinstance(holder, int):
                return holder
            if time.monotonic() >= deadline:
                raise StoreBusy(busy_message(holder, self.display_url))
            said = said or _say_waiting(holder, self.display_url, wait)
            _pause(deadline, interrupted)

    def wait_for_live_run(self, wait: float, interrupted: Interrupted = _never) -> None:
        """Before taking any lock: raise :class:`StoreBusy` if a live run still holds the
        store after ``wait`` seconds. A running crawl keeps SQLite's write lock, so this
        looks on a plain read connection, which WAL never blocks."""
        if self.shared:
            return
        try:
            engine = make_engine(self.url, writer=False)
        except (SQLAlchemyError, OSError):
            return  # no store to look into: open() will say why
        deadline = time.monotonic() + wait
        said = False
        try:
            while True:
                holder = _live_run(engine)
                if holder is None:
                    return
                if time.monotonic() >= deadline:
                    raise StoreBusy(busy_message(holder, self.display_url))
                said = said or _say_waiting(holder, self.display_url, wait)
                _pause(deadline, interrupted)
        finally:
            engine.dispose()

    def live_run(self) -> Row[Any] | None:
        """A run of the store that is still running (see is_live), if any."""
        host = socket.gethostname()
        running = self.conn.execute(
            select(crawl_runs).where(crawl_runs.c.status == "running").order_by(crawl_runs.c.id)
        ).all()
        return next((run for run in running if is_live(run, host)), None)

    def _claim(
        self, spider: str, arguments: Mapping[str, object], fleet_id: str | None
    ) -> int | Row[Any]:
        """One attempt, in one transaction: the new run's id, or the live run in the way."""
        conn = self.conn
        if conn.dialect.name == "postgresql":
            # SQLite's BEGIN IMMEDIATE already serializes this; PostgreSQL needs a lock.
            conn.exec_driver_sql("LOCK TABLE crawl_runs IN SHARE ROW EXCLUSIVE MODE")
        host = socket.gethostname()
        running = conn.execute(
            select(crawl_runs).where(crawl_runs.c.status == "running").order_by(crawl_runs.c.id)
        ).all()
        for run in running:
            if is_live(run, host):
                if self.shared:
                    continue  # runs write a shared store side by side
                self.rollback()
                return run
            logger.warning(
                "Run %d (pid %s) is marked running but its process is gone: closing it as killed",
                run.id,
                run.pid,
            )
            conn.execute(
                update(crawl_runs)
                .where(crawl_runs.c.id == run.id)
                .values(status="killed", finish_reason="stale lock", finished_at=utcnow())
            )
        run_id = self._insert_run(
            spider, arguments, pid=os.getpid(), hostname=host, fleet_id=fleet_id
        )
        self.commit()
        return run_id

    def _insert_run(
        self,
        spider: str,
        arguments: Mapping[str, object],
        *,
        pid: int,
        hostname: str,
        fleet_id: str | None = None,
    ) -> int:
        run_id = self.conn.execute(
            insert(crawl_runs).values(
                pid=pid,
                hostname=hostname,
                fleet_id=fleet_id,
                spider=spider,
                arguments=json.dumps(dict(arguments), sort_keys=True, default=str),
                started_at=utcnow(),
                status="running",
                items_new=0,
                items_exact_duplicate=0,
                items_near_duplicate=0,
                items_already_stored=0,
                items_dropped=0,
                dropped_reasons="{}",
                errors=0,
            )
        ).inserted_primary_key
        assert run_id is not None
        return int(run_id[0])

    def finish_run(
        self, run_id: int, *, status: str, finish_reason: str | None, counts: RunCounts
    ) -> None:
        self.conn.execute(
            update(crawl_runs)
            .where(crawl_runs.c.id == run_id)
            .values(
                finished_at=utcnow(),
                status=status,
                finish_reason=finish_reason,
                items_new=counts.new,
                items_exact_duplicate=counts.exact_duplicate,
                items_near_duplicate=counts.near_duplicate,
                items_already_stored=counts.already_stored,
                items_revised=counts.revised,
                items_dropped=sum(counts.dropped.values()),
                dropped_reasons=json.dumps(counts.dropped, sort_keys=True),
                errors=counts.errors,
            )
        )
        self.commit()

    def close_maintenance_run(self, run_id: int, arguments: Mapping[str, object]) -> None:
        """Close a run that changed the store without crawling (``scrapy dupes --apply``),
        with what it did in its arguments. Not committed: it belongs to the change."""
        self.conn.execute(
            update(crawl_runs)
            .where(crawl_runs.c.id == run_id)
            .values(
                finished_at=utcnow(),
                status="finished",
                finish_reason="applied",
                arguments=json.dumps(arguments, sort_keys=True),
            )
        )

"""The ``warc_files`` table: how far each WARC file has been read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from db.base import StoreBase, warc_files
from db.records import WarcProgress


class WarcFiles(StoreBase):
    """Reads and writes of the warc source's progress, in the store's open transaction."""

    def warc_progress(self, path: str) -> WarcProgress | None:
        row = self.conn.execute(
            select(
                warc_files.c.size,
                warc_files.c.offset,
                warc_files.c.finished_at,
                warc_files.c.head,
            ).where(warc_files.c.path == path)
        ).first()
        return None if row is None else WarcProgress(**row._mapping)

    def save_warc_progress(
        self,
        path: str,
        *,
        size: int,
        offset: int,
        at: datetime,
        finished: bool,
        head: str | None = None,
    ) -> None:
        """Record how far PATH was read; HEAD, where given, is its content's digest."""
        values: dict[str, object] = {
            "size": size,
            "offset": offset,
            "updated_at": at,
            "finished_at": at if finished else None,
        }
        if head is not None:
            values["head"] = head
        changed = self.conn.execute(
            update(warc_files).where(warc_files.c.path == path).values(**values)
        ).rowcount
        if not changed:
            self.conn.execute(insert(warc_files).values(path=path, **values))

    def advance_warc_progress(self, path: str, *, size: int, offset: int, at: datetime) -> None:
        """Move an unfinished file's offset forward to OFFSET; never back, and never on a
        file recorded as finished: the source records those itself, and may have written a
        later offset (of a dropped document's record) in the same transaction."""
        changed = self.conn.execute(
            update(warc_files)
            .where(
                warc_files.c.path == path,
                warc_files.c.finished_at.is_(None),
                warc_files.c.offset < offset,
            )
            .values(size=size, offset=offset, updated_at=at)
        ).rowcount
        if not changed and self.warc_progress(path) is None:
            self.conn.execute(
                insert(warc_files).values(
                    path=path, size=size, offset=offset, updated_at=at, finished_at=None
                )
            )

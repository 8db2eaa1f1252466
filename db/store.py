"""The store: one connection to the database, with each concern in a module of its own
(the run ledger in db.runs, the URLs not stored in db.unstored, migrations in db.schema,
look-ups in db.lookups, writes in db.writes, revisions in db.revisions), put together
here."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from db.base import StoreError
from db.engine import make_engine
from db.lookups import Lookups
from db.revisions import Revisions
from db.runs import RunLedger
from db.schema import Migrations
from db.unstored import Unstored
from db.warcfiles import WarcFiles


class Store(Migrations, RunLedger, Lookups, Revisions, Unstored, WarcFiles):
    """One connection to the database behind a SQLAlchemy URL (see db.base.StoreBase)."""

    def open(self) -> None:
        """Connect and, for a writer, bring the schema up to date."""
        try:
            self._engine = make_engine(self.url, writer=self.writer, mmap_bytes=self.mmap_bytes)
            if self.writer:
                self.migrate()
            self._conn = self._engine.connect()
        except StoreError:
            self.close()
            raise
        except (SQLAlchemyError, OSError) as exc:
            self.close()
            raise StoreError(f"cannot open store {self.display_url}: {exc}") from exc

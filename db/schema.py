"""The schema's revisions: Alembic's migrations, run in place on the store's connection."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from db.base import MIGRATIONS_LOCK, StoreBase, StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every schema revision this code has a migration for."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


class Migrations(StoreBase):
    """Bringing a store to this code's schema, and telling when it is not."""

    def migrate(self) -> None:
        """Run Alembic's ``upgrade head`` in place; a no-op on a current store. A store at a
        revision this code does not know was written by a later version: refused, before
        Alembic would fail on it."""
        assert self._engine is not None
        with self._engine.connect() as conn:
            if not self.shared:
                self._upgrade(conn)
                return
            # The processes of a fleet start together: one migrates, the others wait for
            # it and find the schema current.
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATIONS_LOCK})
            conn.commit()
            try:
                self._upgrade(conn)
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATIONS_LOCK})
                conn.commit()

    def _upgrade(self, conn: Connection) -> None:
        current = MigrationContext.configure(conn).get_current_revision()
        self.refuse_newer(current)
        if current == head_revision():
            return  # Alembic's upgrade would load its environment to do nothing
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()

    def refuse_newer(self, current: str | None) -> None:
        if current is not None and current not in known_revisions():
            raise StoreError(
                f"the store {self.display_url} was written by a newer newsdedup (schema "
                f"revision {current}; this version knows up to {head_revision()}): "
                "upgrade newsdedup to use it"
            )

    def revision(self) -> str | None:
        """The schema revision the store is at (None for an empty database)."""
        return MigrationContext.configure(self.conn).get_current_revision()

    def require_current(self) -> None:
        """For read-only tools: refuse a store whose schema is older than this code's."""
        current, head = self.revision(), head_revision()
        self.refuse_newer(current)
        if current != head:
            raise StoreError(
                f"the store {self.display_url} is at schema revision {current or 'none'}, "
                f"this version reads {head}: run `scrapy migrate` (or any crawl) first"
            )

"""The schema's revisions: Alembic's migrations, run in place on the store's connection."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.base import StoreBase, StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class Migrations(StoreBase):
    """Bringing a store to this code's schema, and telling when it is not."""

    def migrate(self) -> None:
        """Run Alembic's ``upgrade head`` in place; a no-op on a current store."""
        assert self._engine is not None
        cfg = alembic_config()
        with self._engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()

    def revision(self) -> str | None:
        """The schema revision the store is at (None for an empty database)."""
        return MigrationContext.configure(self.conn).get_current_revision()

    def require_current(self) -> None:
        """For read-only tools: refuse a store whose schema is older than this code's."""
        current, head = self.revision(), head_revision()
        if current != head:
            raise StoreError(
                f"the store {self.display_url} is at schema revision {current or 'none'}, "
                f"this version reads {head}: run `scrapy migrate` (or any crawl) first"
            )

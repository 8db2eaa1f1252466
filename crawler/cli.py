"""The base of our store commands: library errors become one-line messages here, at the edge."""

from __future__ import annotations

import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand
from sqlalchemy.engine import make_url

from db.base import StoreError
from db.store import Store


class StoreCommand(ScrapyCommand):
    """A command that works on the store named by NEWS_DATABASE_URL."""

    requires_project = True
    # No crawl, so no crawler process: its start-up log would only be noise here.
    requires_crawler_process = False

    def open_store(self, *, writer: bool = False) -> Store | None:
        """The open store, or None after printing why it cannot be opened."""
        assert self.settings is not None
        url = self.settings.get("NEWS_DATABASE_URL")
        store = Store(url, writer=writer)
        parsed = make_url(url)
        if (
            not writer
            and parsed.get_backend_name() == "sqlite"
            and parsed.database
            and not Path(parsed.database).exists()
        ):
            self.fail(f"no store at {store.display_url}: run a crawl first")
            return None
        try:
            store.open()
            if not writer:
                store.require_current()
        except StoreError as exc:
            store.close()
            self.fail(str(exc))
            return None
        return store

    def fail(self, message: str, exitcode: int = 1) -> None:
        print(f"error: {message}", file=sys.stderr)
        self.exitcode = exitcode

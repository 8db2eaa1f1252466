"""`scrapy migrate`: bring the store's schema up to date in place."""

from __future__ import annotations

import argparse

from crawler.cli import StoreCommand
from db.base import StoreError
from db.store import Store


class Command(StoreCommand):
    def short_desc(self) -> str:
        return "Upgrade the store (NEWS_DATABASE_URL) to the current schema"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        store = Store(self.settings.get("NEWS_DATABASE_URL"))
        try:
            store.open()  # a writer migrates on open
            print(f"store {store.display_url} is at schema revision {store.revision()}")
        except StoreError as exc:
            self.fail(str(exc))
        finally:
            store.close()

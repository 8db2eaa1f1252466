"""The base of our store commands: library errors become one-line messages here, at the edge."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand
from sqlalchemy.engine import make_url

from db.base import StoreError
from db.store import Store

# Characters that reorder or hide what follows them on a terminal (bidi controls): a title
# stored with them is shown with them escaped, so that it cannot disguise the lines around it.
_BIDI_RE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(text: str | None) -> str:
    """TEXT as a command prints it: bidi controls escaped as \\uXXXX."""
    return _BIDI_RE.sub(lambda match: f"\\u{ord(match.group()):04x}", text or "")


# The largest count or id a command takes: SQLite's integers stop at 2**63 - 1, and a
# larger number would fail in the driver instead of on the command line.
MAX_COUNT = 1_000_000_000


def count(text: str) -> int:
    """An argparse type: a whole number from 0 to MAX_COUNT (--limit, --runs, --run)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= number <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_COUNT}, got {text}")
    return number


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

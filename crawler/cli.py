"""The base of our store commands: library errors become one-line messages here, at the edge."""

from __future__ import annotations

import argparse
import errno
import functools
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from sqlalchemy.exc import DatabaseError

from crawler.rules import checked
from db.base import StoreError
from db.engine import sqlite_files
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


# What a write to standard output fails with when the output cannot take it.
OUTPUT_ERRORS = {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT}
Run = Callable[[Any, list[str], argparse.Namespace], None]


def writes_output(run: Run) -> Run:
    """For a command's ``run``: a reader that went away (``| head``) ends the output
    quietly; an output that cannot be written (a full disk, ``> /dev/full``) is one line and
    exit code 1, not a traceback."""

    @functools.wraps(run)
    def wrapper(command: StoreCommand, args: list[str], opts: argparse.Namespace) -> None:
        try:
            run(command, args, opts)
            sys.stdout.flush()
        except BrokenPipeError:
            _drop_stdout()
        except DatabaseError as exc:
            # A store damaged on disk (or not a store at all) is the operator's to mend; it
            # is said in one line, as the crawl says it.
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            command.fail(f"the store cannot be read: {reason}")
        except OSError as exc:
            if exc.errno not in OUTPUT_ERRORS:
                raise
            _drop_stdout()
            command.fail(f"cannot write the output: {exc.strerror or exc}")

    return wrapper


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so that Python's own flush at exit does not fail
    again on what is left in its buffer."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class StoreCommand(ScrapyCommand):
    """A command that works on the store named by NEWS_DATABASE_URL."""

    requires_project = True
    # No crawl, so no crawler process: its start-up log would only be noise here.
    requires_crawler_process = False

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        # Scrapy hands a command the options it does not know as arguments: a misspelled
        # one (--sinse) would be ignored, and the command run without it.
        unknown = [arg for arg in args if arg.startswith("-") and arg != "-"]
        if unknown:
            raise UsageError(
                f"{self.name_of_command()} takes no option {unknown[0]} (see --help)",
                print_help=False,
            )

    def name_of_command(self) -> str:
        return type(self).__module__.rpartition(".")[2]

    def open_store(self, *, writer: bool = False) -> Store | None:
        """The open store, or None after printing why it cannot be opened."""
        assert self.settings is not None
        try:
            url = checked(self.settings, "NEWS_DATABASE_URL")
        except ValueError as exc:
            self.fail(str(exc))
            return None
        store = Store(url, writer=writer)
        files = sqlite_files(url)
        if not writer and files and not files[0].exists():
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

"""`scrapy export`: deduplicated (or all) articles as JSON Lines or CSV, streamed."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from scrapy.exceptions import UsageError

from crawler.cli import StoreCommand, count, writes_output
from db.base import StoreError
from db.engine import sqlite_files
from db.export import FORMATS, rows, write


class OutputRefused(Exception):
    """The output path is one the export must not write to; the message says why."""


def check_output(output: Path, store_url: str, *, force: bool) -> tuple[Path, bool]:
    """The file to write for OUTPUT (a symlink's target: the link itself stays), and whether
    it is a regular file to replace through a temporary file (False: a device or a pipe,
    written in place). Refuses the store's own files, always, and any existing file
    without FORCE."""
    target = output.resolve()
    if target in {path.resolve() for path in sqlite_files(store_url)}:
        raise OutputRefused(f"{output} is the store itself (or its journal): not overwritten")
    if not target.parent.is_dir():
        raise OutputRefused(f"{output}: the folder {target.parent} does not exist")
    try:
        mode = output.stat().st_mode  # through any link
    except FileNotFoundError:
        return target, True
    if not force:
        raise OutputRefused(f"{output} exists: add --force to overwrite it")
    if not stat.S_ISREG(mode):
        return output, False  # /dev/stdout, a FIFO: opened as named, never replaced
    return target, True


class Command(StoreCommand):
    def short_desc(self) -> str:
        return "Write articles_dedup (or --all articles) as JSON Lines or CSV"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--format", choices=FORMATS, default="jsonl", dest="fmt")
        parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")
        parser.add_argument("--force", action="store_true", help="overwrite an existing FILE")
        parser.add_argument("--since", metavar="ISO-DATE", help="fetched at or after this time")
        parser.add_argument("--run", type=count, metavar="ID", help="stored by this run only")
        parser.add_argument("--all", action="store_true", help="every article, duplicates too")

    @writes_output
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        since = None
        if opts.since:
            try:
                since = datetime.fromisoformat(opts.since)
            except ValueError as exc:
                raise UsageError(f"--since wants an ISO date, got {opts.since!r}") from exc
        assert self.settings is not None
        # "-" is standard output, as for every Unix tool.
        output = Path(opts.output) if opts.output and opts.output != "-" else None
        replace = False
        target = output
        if output is not None:
            try:
                target, replace = check_output(
                    output, self.settings.get("NEWS_DATABASE_URL"), force=opts.force
                )
            except OutputRefused as exc:
                self.fail(str(exc))
                return
        store = self.open_store()
        if store is None:
            return
        try:
            columns, records = rows(store, all_articles=opts.all, since=since, run_id=opts.run)
            if output is None:
                write(sys.stdout, columns, records, opts.fmt)
                sys.stdout.flush()
                return

            def to(out: TextIO) -> int:
                return write(out, columns, records, opts.fmt)

            assert target is not None
            written = write_replacing(target, to) if replace else write_in_place(target, to)
            print(f"wrote {written} articles to {output}", file=sys.stderr)
        except (OSError, StoreError) as exc:
            if output is None and isinstance(exc, OSError):
                raise  # standard output's own failure: writes_output says it
            self.fail(f"export to {output or 'standard output'} failed: {exc}")
        finally:
            store.close()


def write_replacing(output: Path, writer: Callable[[TextIO], int]) -> int:
    """Write a temporary file beside OUTPUT, then rename it over OUTPUT: a failed export
    leaves no half-written file, and the previous file, if any, as it was."""
    descriptor, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    try:
        # mkstemp's file is private (0600); an export is read by other tools, often as
        # other users: it gets the mode of the file it replaces, or what the umask gives.
        try:
            mode = stat.S_IMODE(output.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(descriptor, mode)
        with open(descriptor, "w", encoding="utf-8", newline="") as out:
            count = writer(out)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def write_in_place(output: Path, writer: Callable[[TextIO], int]) -> int:
    """A device or a pipe (/dev/stdout, a FIFO) is written as it is."""
    with output.open("w", encoding="utf-8", newline="") as out:
        return writer(out)

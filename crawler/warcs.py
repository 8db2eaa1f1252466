"""Reading WARC and ARC files record by record (warcio), for the `warc` source: HTML
responses become documents; every other record, and every part of a file that cannot be
read, is reported with its offset, and reading goes on with the next good record."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from w3lib.encoding import html_to_unicode
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataException, ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = b"WARC/"
ARC_MAGIC = b"filedesc://"
HTML_TYPES = ("text/html", "application/xhtml+xml")
# How much of a file is read at a time while looking for the next record after a bad one.
SCAN_BLOCK = 1 << 20
# What warcio writes to standard error when a record's Content-Length does not fit it.
_LENGTH_WARNING_RE = re.compile(r"Content-Length is invalid\s+Offset: (\d+)")


@dataclass(frozen=True)
class Document:
    """An HTML response record: the page as the crawler fetched it."""

    url: str
    fetched_at: datetime
    html: str
    offset: int  # where the record starts
    end: int  # where the next one starts


@dataclass(frozen=True)
class Skipped:
    """A record that is no article (a request, metadata, a revisit, a PDF …) or that
    cannot be one (too large, a broken body); ``reason`` is its stats key."""

    reason: str
    offset: int
    end: int
    detail: str


@dataclass(frozen=True)
class Broken:
    """A part of the file that could not be read at OFFSET; reading goes on at RESUME
    (None: nothing more of the file can be read)."""

    reason: str
    offset: int
    detail: str
    resume: int | None


Record = Document | Skipped | Broken


def warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


class WarcReader:
    """The records of one WARC (``.warc``, ``.warc.gz``) or ARC (``.arc.gz``) file, from
    byte START on; HTTP bodies over MAX_BYTES are skipped unread."""

    def __init__(self, path: Path, start: int, max_bytes: int) -> None:
        self.path = path
        self.start = start
        self.max_bytes = max_bytes
        self.size = path.stat().st_size

    def __iter__(self) -> Iterator[Record]:
        with self.path.open("rb") as stream:
            head = stream.read(len(ARC_MAGIC))
            if not head.startswith((GZIP_MAGIC, WARC_MAGIC, ARC_MAGIC)):
                yield Broken("not_warc", 0, "neither a WARC nor an ARC file", None)
                return
            compressed = head.startswith(GZIP_MAGIC)
            position: int | None = self.start
            while position is not None and position < self.size:
                position = yield from self._from(stream, position, compressed)

    def _from(
        self, stream: IO[bytes], position: int, compressed: bool
    ) -> Generator[Record, None, int | None]:
        """Records from POSITION until the end or a part that cannot be read; returns where
        reading goes on (None: the end)."""
        stream.seek(position)
        records = ArchiveIterator(stream, arc2warc=True)
        end = position
        while True:
            try:
                record = next(records, None)
            except (ArchiveLoadFailed, EOFError, OSError, ValueError) as exc:
                if end == 0:
                    yield Broken("not_warc", 0, f"no record could be read: {exc}", None)
                    return None
                resume = self._next_start(stream, end + 1, compressed)
                skipped = f"; resumed at {resume}" if resume is not None else ""
                yield Broken("unreadable", end, f"{_first_line(exc)}{skipped}", resume)
                return resume
            if record is None:
                break
            # warcio says on standard error when a record's Content-Length does not fit
            # its body, as it finishes the record: heard here, and made the record's reason.
            warnings = io.StringIO()
            with contextlib.redirect_stderr(warnings):
                found = self._read(record)
                offset = records.get_record_offset()  # of the file (warcio tells its position)
                end = offset + records.get_record_length()
            if getattr(record.raw_stream, "limit", 0) > 0:
                yield Broken("truncated", offset, "the file ends inside this record's body", None)
                return None
            if _LENGTH_WARNING_RE.search(warnings.getvalue()):
                detail = "the record's Content-Length does not match its body"
                yield Skipped("bad_content_length", offset, end, detail)
            elif len(found) == 2:
                yield Skipped(found[0], offset, end, found[1])
            else:
                yield Document(found[0], found[1], found[2], offset, end)
        stream.seek(end)
        if stream.read(SCAN_BLOCK).strip(b"\r\n"):
            yield Broken(
                "truncated", end, f"the last {self.size - end} bytes are an incomplete record", None
            )
        return None

    def _read(self, record: Any) -> tuple[str, str] | tuple[str, datetime, str]:
        """(url, fetched_at, html) of an HTML response; (reason, detail) of anything else."""
        kind = record.rec_type
        if kind != "response":
            return kind or "unknown", f"a {kind} record"
        headers = record.http_headers
        content_type = headers.get_header("Content-Type", "") if headers else ""
        if not content_type.split(";", 1)[0].strip().lower().startswith(HTML_TYPES):
            return "non_html", f"content type {content_type or 'unknown'}"
        url = record.rec_headers.get_header("WARC-Target-URI") or ""
        fetched_at = warc_date(record.rec_headers.get_header("WARC-Date"))
        if not url or fetched_at is None:
            return "invalid_record", "no WARC-Target-URI or no valid WARC-Date"
        chunked = (headers.get_header("Transfer-Encoding") or "").lower() == "chunked"
        try:
            body = self._body(record, chunked)
        except ChunkedDataException as exc:
            return "broken_chunked", f"chunked HTTP body cannot be decoded: {exc}"
        if body is None:
            return "too_large", f"HTTP body over NEWS_FILES_MAX_BYTES ({self.max_bytes} B)"
        _encoding, html = html_to_unicode(content_type, body)
        return url, fetched_at, html

    def _body(self, record: Any, chunked: bool) -> bytes | None:
        """The decoded HTTP body, or None when it is over max_bytes (not read further)."""
        if chunked:
            # As warcio's content_stream() reads it, but a broken chunk is an error, not
            # the rest of the body taken as it is.
            encoding = (record.http_headers.get_header("Content-Encoding") or "").lower()
            supported = ChunkedDataReader.get_supported_decompressors()
            stream = ChunkedDataReader(
                record.raw_stream,
                decomp_type=encoding if encoding in supported else None,
                raise_exceptions=True,
            )
            body = stream.read(self.max_bytes + 1)
        else:
            body = record.content_stream().read(self.max_bytes + 1)
        return None if len(body) > self.max_bytes else body

    def _next_start(self, stream: IO[bytes], after: int, compressed: bool) -> int | None:
        """Where the next readable record starts, after byte AFTER; None if none does. The
        file is scanned a block at a time, so a large one is never read whole."""
        marker = GZIP_MAGIC if compressed else b"\r\nWARC/"
        skip = 0 if compressed else 2  # the line break before "WARC/"
        block = SCAN_BLOCK
        position = after
        while position < self.size:
            stream.seek(position)
            data = stream.read(block + len(marker))
            found = data.find(marker)
            while 0 <= found < block:
                candidate = position + found + skip
                if _readable_at(stream, candidate):
                    return candidate
                found = data.find(marker, found + 1)
            position += block
        return None


def _readable_at(stream: IO[bytes], position: int) -> bool:
    stream.seek(position)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            record = next(ArchiveIterator(stream, arc2warc=True), None)
    except (ArchiveLoadFailed, EOFError, OSError, ValueError):
        return False
    return record is not None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]

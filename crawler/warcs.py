"""Reading WARC and ARC files record by record (warcio), for the `warc` source: HTML
responses become documents; every other record, and every part of a file that cannot be
read, is reported with its offset, and reading goes on with the next good record."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warcio.bufferedreaders import ChunkedDataException, ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParserException

from crawler.charsets import to_text
from crawler.warcframes import GZIP_MAGIC, Frame, Gap, Tick, frames

WARC_MAGIC = b"WARC/"
ARC_MAGIC = b"filedesc://"
HTML_TYPES = ("text/html", "application/xhtml+xml")
# What a record may hold beyond its HTTP body (its WARC and HTTP headers) and still be read.
HEADROOM = 1 << 20
# Responses that are the page itself: an error page, a redirect, an empty or partial
# answer is no article.
ARTICLE_STATUSES = frozenset({"200", "203"})
# How much of a file's start identifies it.
HEAD_BYTES = 64 * 1024
_LOADER = ArcWarcRecordLoader()


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


Record = Document | Skipped | Broken | Tick


def warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


class WarcReader:
    """The records of one WARC (``.warc``, ``.warc.gz``) or ARC (``.arc``, ``.arc.gz``) file,
    from byte START on, framed by crawler.warcframes and parsed one by one with warcio, so
    that a record that lies costs itself alone; HTTP bodies over MAX_BYTES are skipped."""

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
            cap = self.max_bytes + HEADROOM
            for piece in frames(stream, self.start, self.size, compressed, cap):
                if isinstance(piece, Tick):
                    yield piece
                elif isinstance(piece, Gap):
                    yield Broken(piece.reason, piece.offset, piece.detail, piece.resume)
                elif piece.fault is not None:
                    detail = "the record's Content-Length does not match its body"
                    yield Skipped(piece.fault, piece.offset, piece.end, detail)
                else:
                    yield self._record(piece)

    def _record(self, frame: Frame) -> Document | Skipped:
        try:
            record = _LOADER.parse_record_stream(io.BytesIO(frame.data))
            found = self._read(record)
        except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError) as exc:
            return Skipped("invalid_record", frame.offset, frame.end, _first_line(exc))
        if len(found) == 2:
            return Skipped(found[0], frame.offset, frame.end, found[1])
        return Document(found[0], found[1], found[2], frame.offset, frame.end)

    def _read(self, record: Any) -> tuple[str, str] | tuple[str, datetime, str]:
        """(url, fetched_at, html) of an HTML response; (reason, detail) of anything else."""
        kind = record.rec_type
        if kind != "response":
            return kind or "unknown", f"a {kind} record"
        headers = record.http_headers
        if headers is None:
            return "invalid_record", "a response record without an HTTP status line"
        status = headers.get_statuscode()
        if status not in ARTICLE_STATUSES:
            return "http_status", f"HTTP status {status or 'unknown'}"
        content_type = headers.get_header("Content-Type", "")
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
        _encoding, html = to_text(body, True, content_type)
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


def head_digest(path: Path, size: int) -> str:
    """What identifies a file's content: the digest of its first bytes (up to HEAD_BYTES,
    and no more than SIZE, its size when it was last read), which a file that grew keeps
    and a file replaced under the same name does not."""
    with path.open("rb") as stream:
        return hashlib.sha256(stream.read(min(size, HEAD_BYTES))).hexdigest()


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]

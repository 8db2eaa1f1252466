"""Where each record of a WARC or ARC file begins and ends, found without trusting the
record's own length: in a compressed file a record's frame is its gzip member, and in a
plain file a Content-Length is believed only where the next record begins where it says.
A length that lies (too long, too short, not a number, 10^30), garbage, or a zero-filled
gap costs the records it covers and no more, in time linear in the bytes it spans."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO

GZIP_MAGIC = b"\x1f\x8b\x08"
# Bytes read at a time while inflating a member or scanning for the next record.
BLOCK = 1 << 20
# Compressed bytes read at a time while inflating one member.
INFLATE_READ = 64 * 1024
# A record's header block is never longer than this (warcio's own limit is of this order).
HEADER_MAX = 64 * 1024
# A WARC record starts with its version line; an ARC record with its URL record line
# (URL, IP address, 14-digit date, content type, length), and its file header is the same
# line for a filedesc:// URL.
WARC_START = re.compile(rb"WARC/1\.[0-9]\r?\n")
ARC_LINE = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://[^ \r\n]* [^ \r\n]+ \d{14} [^ \r\n]* (\S*)\r?\n")
LENGTH_HEADER = re.compile(rb"(?im)^content-length:[ \t]*([^\r\n]*?)[ \t]*\r?$")
DIGITS = re.compile(rb"\d{1,18}")
# Where a scan looks for a record: a version line anywhere (a record cut short runs into
# the next one mid-line), an ARC record line at the start of a line or after a gap.
RECORD_START = re.compile(
    rb"WARC/1\.[0-9]\r?\n"
    rb"|(?:^|(?<=[\n\x00]))[A-Za-z][A-Za-z0-9+.-]*://[^ \r\n]* [^ \r\n]+ \d{14} "
)
# The two line breaks that close a WARC record, after its block.
RECORD_END = b"\r\n\r\n"
# The longest start that a block's end can cut.
HEADER_LINE = 4096


@dataclass(frozen=True)
class Frame:
    """One record's bytes. OFFSET is where it starts in the file; END is where reading
    resumes after it (the next frame's start, or its member's start while the member holds
    more records). DATA holds at most the reader's cap: COMPLETE says whether it is all of
    the record. FAULT names what is wrong with its framing (``bad_content_length``)."""

    offset: int
    end: int
    data: bytes
    complete: bool
    fault: str | None = None


@dataclass(frozen=True)
class Gap:
    """Bytes at OFFSET that hold no readable record; reading resumes at RESUME (None: at
    the end of the file). REASON is ``unreadable`` or ``truncated``."""

    offset: int
    resume: int | None
    reason: str
    detail: str


@dataclass(frozen=True)
class Tick:
    """A long read or scan is under way at POSITION: the caller may let others run."""

    position: int


Piece = Frame | Gap | Tick


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    fault: str | None


def frames(stream: IO[bytes], start: int, size: int, compressed: bool, cap: int) -> Iterator[Piece]:
    """The frames and gaps of a file of SIZE bytes open as STREAM, from byte START on."""
    if compressed:
        yield from _members(stream, start, size, cap)
    else:
        yield from _plain(stream, start, size, cap)


def _plain(stream: IO[bytes], start: int, size: int, cap: int) -> Iterator[Piece]:
    for span in _spans(_Window(stream, size), start):
        if isinstance(span, _Span):
            stream.seek(span.start)
            length = span.end - span.start
            data = stream.read(min(length, cap))
            yield Frame(span.start, span.end, data, length <= cap, span.fault)
        else:
            yield span


def _members(stream: IO[bytes], start: int, size: int, cap: int) -> Generator[Piece, None, None]:
    position = start
    while position < size:
        yield Tick(position)
        if _no_member_at(stream, position):
            resume = yield from _next_member(stream, position + 1, size)
            yield Gap(position, resume, "unreadable", f"no gzip member here{_resumed(resume)}")
            if resume is None:
                return
            position = resume
            continue
        inflated = yield from _inflate(stream, position, size, cap)
        if isinstance(inflated, Gap):
            yield inflated
            if inflated.resume is None:
                return
            position = inflated.resume
            continue
        data, end, complete = inflated
        if not complete:
            # Over the cap: its frame ends where the next member begins.
            yield Frame(position, end, data, False)
        else:
            yield from _member_records(data, position, end)
        position = end


def _member_records(data: bytes, start: int, end: int) -> Iterator[Piece]:
    """The records of one gzip member (one, as the WARC standard has it; several are read
    too). Offsets are the member's: a record is only ever resumed at its member's start."""
    if not data.strip(b"\r\n\x00"):
        return
    window = _Window(io.BytesIO(data), len(data), member=True)
    spans = [piece for piece in _spans(window, 0) if not isinstance(piece, Tick)]
    for index, piece in enumerate(spans):
        last = index == len(spans) - 1
        if isinstance(piece, _Span):
            yield Frame(
                start, end if last else start, data[piece.start : piece.end], True, piece.fault
            )
        else:
            detail = f"{piece.detail} (inside the gzip member at {start})"
            yield Gap(start, end, piece.reason, detail)


class _Window:
    """The bytes of a plain file, or of one inflated member (MEMBER: a record's length
    that runs past its end is a lie, not a truncated file)."""

    def __init__(self, stream: IO[bytes], size: int, member: bool = False) -> None:
        self.stream = stream
        self.size = size
        self.member = member

    def read(self, position: int, length: int) -> bytes:
        self.stream.seek(position)
        return self.stream.read(max(0, min(length, self.size - position)))


def _spans(window: _Window, start: int) -> Generator[_Span | Gap | Tick, None, None]:
    position = start
    while position < window.size:
        yield Tick(position)
        position = _skip_blank(window, position)
        if position >= window.size:
            return
        header = _header(window, position)
        if header is None:
            resume = yield from _next_record(window, position + 1)
            yield Gap(position, resume, "unreadable", f"no record starts here{_resumed(resume)}")
            if resume is None:
                return
            position = resume
            continue
        body, length = header
        end = body + length if length is not None else None
        if end is not None and end <= window.size:
            after = _skip_blank(window, end)
            if after >= window.size or _header(window, after) is not None:
                yield _Span(position, end, None)
                position = end
                continue
            if window.read(end, len(RECORD_END)) == RECORD_END:
                # The length ends at the record's own closing line: the bytes after it
                # are garbage, a gap of their own, and the record is whole.
                yield _Span(position, end, None)
                position = end + len(RECORD_END)
                continue
        # The length does not frame the record: it runs to the next record that starts.
        resume = yield from _next_record(window, body)
        if resume is None:
            if end is not None and end > window.size and not window.member:
                yield Gap(position, None, "truncated", "the file ends inside this record's body")
                return
            after = _skip_blank(window, end) if end is not None else window.size
            if end is not None and end <= window.size and _starts_record(window, after):
                # What follows is the start of a record the file ends inside.
                yield _Span(position, end, None)
                tail = window.size - end
                yield Gap(end, None, "truncated", f"the last {tail} bytes are an incomplete record")
                return
            yield _Span(position, window.size, "bad_content_length")
            return
        yield _Span(position, resume, "bad_content_length")
        position = resume


def _starts_record(window: _Window, position: int) -> bool:
    return RECORD_START.match(window.read(position, HEADER_LINE)) is not None


def _skip_blank(window: _Window, position: int) -> int:
    while position < window.size:
        chunk = window.read(position, 4096)
        stripped = len(chunk) - len(chunk.lstrip(b"\r\n"))
        position += stripped
        if stripped < len(chunk):
            break
    return position


def _header(window: _Window, position: int) -> tuple[int, int | None] | None:
    """(where the body starts, its length, or None where it is not a number) of the record
    header at POSITION, or None where no record starts there."""
    head = window.read(position, HEADER_MAX)
    if WARC_START.match(head):
        blank = re.search(rb"\r?\n\r?\n", head)
        if blank is None:
            return None
        found = LENGTH_HEADER.search(head, 0, blank.start() + 1)
        length = _number(found.group(1)) if found else None
        return position + blank.end(), length
    line = ARC_LINE.match(head)
    if line is None:
        return None
    return position + line.end(), _number(line.group(1))


def _number(value: bytes) -> int | None:
    return int(value) if DIGITS.fullmatch(value) else None


def _next_record(window: _Window, after: int) -> Generator[Tick, None, int | None]:
    """Where the next record header starts after byte AFTER (None: none does); scanned a
    block at a time, so a gap of any size costs one pass over it."""
    position = after
    while position < window.size:
        yield Tick(position)
        data = window.read(position, BLOCK)
        for found in RECORD_START.finditer(data):
            if _header(window, position + found.start()) is not None:
                return position + found.start()
        # A header cut by the block's end is found whole by the next block.
        position += max(1, len(data) - HEADER_LINE)
        if len(data) < BLOCK:
            break
    return None


def _no_member_at(stream: IO[bytes], position: int) -> bool:
    stream.seek(position)
    return not stream.read(len(GZIP_MAGIC)).startswith(GZIP_MAGIC)


def _inflate(
    stream: IO[bytes], position: int, size: int, cap: int
) -> Generator[Tick, None, tuple[bytes, int, bool] | Gap]:
    """The member at POSITION: (its first CAP bytes inflated, where it ends, whether those
    are all of it), or the gap it is."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    kept = bytearray()
    fed = 0
    stream.seek(position)
    while not inflater.eof:
        # Small reads: a member is most often a few kilobytes, and what is read past its
        # end is copied again as unused_data.
        chunk = stream.read(INFLATE_READ)
        if not chunk:
            return Gap(position, None, "truncated", "the file ends inside this gzip member")
        fed += len(chunk)
        pending = chunk
        try:
            while pending and not inflater.eof:
                kept += inflater.decompress(pending, BLOCK)
                pending = inflater.unconsumed_tail
                if len(kept) > cap:
                    consumed = position + fed - len(inflater.unconsumed_tail)
                    end = yield from _next_member(stream, consumed, size)
                    return bytes(kept[:cap]), size if end is None else end, False
        except zlib.error as exc:
            resume = yield from _next_member(stream, position + 1, size)
            detail = f"the gzip member cannot be inflated: {exc}{_resumed(resume)}"
            return Gap(position, resume, "unreadable", detail)
        yield Tick(position + fed)
    return bytes(kept), position + fed - len(inflater.unused_data), True


def _next_member(stream: IO[bytes], after: int, size: int) -> Generator[Tick, None, int | None]:
    """Where the next gzip member that holds a record header starts, after AFTER."""
    position = after
    while position < size:
        yield Tick(position)
        stream.seek(position)
        data = stream.read(BLOCK + len(GZIP_MAGIC))
        found = data.find(GZIP_MAGIC)
        while 0 <= found < BLOCK:
            if _member_starts_record(stream, position + found):
                return position + found
            found = data.find(GZIP_MAGIC, found + 1)
        position += BLOCK
    return None


def _member_starts_record(stream: IO[bytes], position: int) -> bool:
    stream.seek(position)
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        head = inflater.decompress(stream.read(HEADER_MAX), 512).lstrip(b"\r\n")
    except zlib.error:
        return False
    return bool(WARC_START.match(head) or ARC_LINE.match(head))


def _resumed(resume: int | None) -> str:
    return f"; resumed at {resume}" if resume is not None else ""

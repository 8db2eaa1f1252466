"""``file://`` downloads for the files source that read exactly the file it checked.

The files source checks each file as it walks the folder (a symlink out of the folder, a
FIFO, an oversized file) and reads it later. In between, the file, or a folder on its path,
may be swapped for a symlink to somewhere else. So the read opens the path without
following a final symlink (``O_NOFOLLOW``) and compares the opened descriptor's identity
(device and inode, from ``fstat``) with the one the walk recorded: a swapped file is refused,
never read."""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING, NamedTuple

from scrapy.core.downloader.handlers.file import FileDownloadHandler
from scrapy.responsetypes import responsetypes
from scrapy.utils.asyncio import run_in_thread
from w3lib.url import file_uri_to_path

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

# Set by the files source on each request: the CheckedFile to read.
CHECKED_FILE_META = "news_checked_file"
READ_CHUNK = 1 << 20


class CheckedFile(NamedTuple):
    """What the walk saw: the path to open (a symlink's target, inside the folder), the
    file's identity, and the most bytes to read."""

    path: str
    device: int
    inode: int
    max_bytes: int


class FileRefused(OSError):
    """The file is not the one that was checked, or grew past its limit; ``reason`` is the
    drop reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def read_checked(checked: CheckedFile) -> bytes:
    """The bytes of the file CHECKED names, read through a descriptor that is that file."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(checked.path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the path is now a symlink
            raise FileRefused("changed_during_read", "replaced by a symlink") from exc
        raise
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (
            checked.device,
            checked.inode,
        ):
            raise FileRefused("changed_during_read", "not the file the walk checked")
        body = file.read(checked.max_bytes + 1)
    if len(body) > checked.max_bytes:
        raise FileRefused(
            "too_large", f"grew past NEWS_FILES_MAX_BYTES={checked.max_bytes} while read"
        )
    return body


class CheckedFileDownloadHandler(FileDownloadHandler):
    """Scrapy's ``file://`` handler, reading through :func:`read_checked` when the request
    carries a :class:`CheckedFile` (the files source's requests all do)."""

    async def download_request(self, request: Request) -> Response:
        checked = request.meta.get(CHECKED_FILE_META)
        if checked is None:
            return await super().download_request(request)
        body = await run_in_thread(read_checked, checked)
        filepath = file_uri_to_path(request.url)
        respcls = responsetypes.from_args(filename=filepath, body=body)
        return respcls(url=request.url, body=body)

"""The local-file source: every .txt, .html and .htm file under a folder, one item each."""

from __future__ import annotations

import logging
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.charsets import to_text
from crawler.filehandler import CHECKED_FILE_META, CheckedFile, FileRefused
from crawler.items import ArticleItem
from crawler.middlewares import ARTICLE_META, Refused
from crawler.rules import checked as checked_setting
from crawler.tree import walk
from db.records import utcnow

logger = logging.getLogger(__name__)

EXTENSIONS = {".txt": "text", ".html": "html", ".htm": "html"}
# Text needs no NUL byte; UTF-16 and UTF-32 do, but they start with a byte-order mark.
BINARY_SNIFF_BYTES = 8192
WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")
# More replacement characters than this share means the bytes were not text in any
# encoding we know.
MAX_REPLACEMENT_SHARE = 0.01


class SkipFile(Exception):
    """A file that is not ingested; ``reason`` is the stats key, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def decode(body: bytes, html: bool = False) -> tuple[str, str]:
    """(encoding, text) of a file's bytes; raises SkipFile for empty, binary or garbled input."""
    if not body.strip():
        raise SkipFile("empty", "the file is empty")
    if b"\x00" in body[:BINARY_SNIFF_BYTES] and not body.startswith(WIDE_BOMS):
        raise SkipFile("binary", "NUL bytes: not a text file")
    encoding, text = to_text(body, html)
    if not text.strip():
        raise SkipFile("empty", "the file holds only white space")
    if text.count("\ufffd") > MAX_REPLACEMENT_SHARE * len(text):
        raise SkipFile("undecodable", f"not valid text in {encoding} or any fallback encoding")
    return encoding, text


class FilesSpider(Spider):
    """``scrapy crawl files -a path=DIR``: ingest a folder, recursively.

    Each file is fetched through the ``file://`` download handler, one at a time and in sorted
    order, so that "the first one stored" is the same on every run; the handler reads the
    very file that was checked (crawler.filehandler).
    Settings: ``NEWS_FILES_MAX_BYTES``, ``NEWS_FILES_MAX_DEPTH``. A symlink is followed only
    when its target is inside the folder. Skipped files are logged with a reason and counted in
    ``news/dropped/<reason>``.
    """

    name = "files"
    # The -a arguments it takes (crawler.commands.crawl refuses any other).
    arguments = ("path",)
    # Local reads need no politeness: throttling is for web servers.
    custom_settings = {  # noqa: RUF012 (Scrapy declares it as a plain attribute)
        "CONCURRENT_REQUESTS": 1,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        # A file's URI is as long as its path, which may pass the 2,083 characters that
        # Scrapy otherwise allows a URL (and drops it with only a debug line).
        "URLLENGTH_LIMIT": 0,
    }

    def __init__(self, path: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = path
        self.run_arguments = {"path": path}

    async def start(self) -> AsyncIterator[Any]:
        if not self.path:
            logger.error("files: no folder given; use -a path=DIR")
            return
        root = Path(self.path).expanduser().resolve()
        if not root.is_dir():
            what = "is not a folder" if root.exists() else "does not exist"
            logger.error("files: %s %s", self.path, what)
            return
        max_bytes = checked_setting(self.settings, "NEWS_FILES_MAX_BYTES")
        source = str(root)
        self.max_depth = checked_setting(self.settings, "NEWS_FILES_MAX_DEPTH")
        for path in self.walk(root):
            try:
                checked = self.check(path, root, max_bytes)
            except SkipFile as skip:
                self.skip(path, skip.reason, str(skip))
                continue
            yield Request(
                path.as_uri(),
                callback=self.parse_file,
                errback=self.file_error,
                cb_kwargs={"source": source},
                # An article: a file already stored is not read again (StoredArticleFilter).
                # The read must find the file checked here (crawler.filehandler).
                meta={"path": path, ARTICLE_META: True, CHECKED_FILE_META: checked},
                # Each path is walked once: the duplicate filter would only keep a
                # fingerprint of every file, growing with the folder.
                dont_filter=True,
            )

    def walk(self, root: Path) -> Iterator[Path]:
        """The matching files under ROOT (crawler.tree.walk), to NEWS_FILES_MAX_DEPTH."""

        def wanted(name: str) -> bool:
            return Path(name).suffix.lower() in EXTENSIONS

        return walk(root, wanted, self.max_depth, self.skip)

    @staticmethod
    def check(path: Path, root: Path, max_bytes: int) -> CheckedFile:
        """What can be refused before reading (links out of the folder, oversized files),
        and what the read must find (crawler.filehandler.CheckedFile)."""
        try:
            info = path.lstat()
        except OSError as exc:
            raise SkipFile("unreadable", exc.strerror or str(exc)) from exc
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # a dangling link, a loop, or gone
            what = "broken symlink" if stat.S_ISLNK(info.st_mode) else "cannot be resolved"
            raise SkipFile("unreadable", f"{what}: {exc}") from exc
        if not target.is_relative_to(root):
            # A symlink out of the folder, or a folder on its path swapped for one.
            raise SkipFile("outside_folder", f"resolves to {target}, outside {root}")
        if stat.S_ISLNK(info.st_mode):
            try:
                info = target.stat()
            except OSError as exc:
                raise SkipFile("unreadable", exc.strerror or str(exc)) from exc
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or device would block the read forever.
            raise SkipFile("not_a_file", "not a regular file")
        size = info.st_size
        if size > max_bytes:
            raise SkipFile("too_large", f"{size} bytes, more than NEWS_FILES_MAX_BYTES={max_bytes}")
        return CheckedFile(str(target), info.st_dev, info.st_ino, max_bytes)

    def parse_file(self, response: Response, source: str) -> Iterator[ArticleItem]:
        path: Path = response.meta["path"]
        try:
            encoding, text = decode(response.body, html=EXTENSIONS[path.suffix.lower()] == "html")
        except SkipFile as skip:
            self.skip(path, skip.reason, str(skip))
            return
        logger.debug("Read %s (%d bytes, %s)", path, len(response.body), encoding)
        yield ArticleItem(
            url=response.url,
            kind="html" if EXTENSIONS[path.suffix.lower()] == "html" else "text",
            raw=text,
            fetched_at=utcnow(),
            source=source,
        )

    def file_error(self, failure: Failure) -> None:
        if isinstance(failure.value, Refused):
            return  # the middleware that refused it has counted it (already stored)
        request = getattr(failure, "request", None)
        path = request.meta["path"] if request is not None else Path("?")
        reason = failure.value.reason if isinstance(failure.value, FileRefused) else "unreadable"
        self.skip(path, reason, failure.getErrorMessage())

    def skip(self, path: Path, reason: str, detail: str) -> None:
        logger.warning("Skipped %s: %s (%s)", path, reason, detail)
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"news/dropped/{reason}")

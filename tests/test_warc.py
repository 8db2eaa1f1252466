"""The warc source: WARC files the tests write with warcio, read through the real engine."""

from __future__ import annotations

import gzip
import io
import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.conftest import ROOT, SAMPLE, CrawlResult, run_scrapy, scrapy_command
from tests.webpages import sample

HTML = [("Content-Type", "text/html; charset=utf-8")]
NAMES = sorted(p.stem for p in SAMPLE.glob("*.txt"))


def page(name: str, extra: str = "") -> bytes:
    title, lines = sample(name)
    paragraphs = "".join(f"<p>{p}</p>" for p in [*lines, extra] if p)
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{paragraphs}</article></body></html>"
    ).encode()


class Warc:
    """A WARC file being written, record by record."""

    def __init__(self, path: Path, gz: bool = True) -> None:
        self.path = path
        self.file = path.open("wb")
        self.writer = WARCWriter(self.file, gzip=gz)

    def response(
        self,
        url: str,
        body: bytes,
        headers: list[tuple[str, str]] = HTML,
        date: str | None = None,
    ) -> None:
        http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
        warc_headers = {"WARC-Date": date} if date else None
        record = self.writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=http,
            warc_headers_dict=warc_headers,
        )
        self.writer.write_record(record)

    def other(self, url: str, kind: str, body: bytes = b"x") -> None:
        if kind == "request":
            body = b"GET / HTTP/1.1\r\nHost: news.example.org\r\n\r\n"
        elif kind == "revisit":
            body = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
        record = self.writer.create_warc_record(url, kind, payload=io.BytesIO(body))
        self.writer.write_record(record)

    def close(self) -> Path:
        self.file.close()
        return self.path


def crawl(path: Path, database: Path, *settings: str) -> CrawlResult:
    return run_scrapy(["crawl", "warc", "-a", f"path={path}"], database, *settings)


def test_html_responses_become_articles_and_the_rest_is_counted(tmp_path):
    folder = tmp_path / "warcs"
    (folder / "2026" / "11").mkdir(parents=True)
    first = Warc(folder / "2026" / "11" / "CC-NEWS-20261130101010-00001.warc.gz")
    first.other("https://news.example.org/", "warcinfo")
    first.other("https://news.example.org/a/heat?utm_source=rss", "request")
    first.response(
        "https://news.example.org/a/heat?utm_source=rss",
        page("en-heatwave"),
        date="2026-11-30T10:10:10Z",
    )
    first.other("https://news.example.org/a/heat", "metadata")
    first.response(
        "https://news.example.org/a/report.pdf", b"%PDF-1.4", [("Content-Type", "application/pdf")]
    )
    first.close()
    second = Warc(folder / "2026" / "11" / "CC-NEWS-20261130121212-00002.warc", gz=False)
    # A Windows-1252 page whose charset is only in the HTTP header.
    second.response(
        "https://presse.example.fr/crue",
        page("fr-crue").decode().encode("cp1252"),
        [("Content-Type", "text/html; charset=windows-1252")],
    )
    second.other("https://news.example.org/a/heat", "revisit")
    second.close()
    (folder / "notes.txt").write_text("not a WARC, and not read")
    database = tmp_path / "news.db"

    result = crawl(folder, database)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = result.rows("SELECT url, source, fetched_at, text FROM articles ORDER BY url")
    assert [(url, source) for url, source, _f, _t in rows] == [
        ("https://news.example.org/a/heat", "CC-NEWS-20261130101010-00001.warc.gz"),
        ("https://presse.example.fr/crue", "CC-NEWS-20261130121212-00002.warc"),
    ]
    assert rows[0][2].startswith("2026-11-30 10:10:10")
    assert "Saint-Aubin" in rows[1][3] and "préfecture a ordonné" in rows[1][3]
    for kind, count in (
        ("warcinfo", 1),
        ("request", 1),
        ("metadata", 1),
        ("non_html", 1),
        ("revisit", 1),
    ):
        assert f"'news/warc/skipped/{kind}': {count}" in result.stderr, kind

    again = crawl(folder, database)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "'news/warc/files_done_before': 2" in again.stderr
    assert "0 new" in again.stdout


def test_broken_files_and_records_lose_nothing_good_and_fail_the_run(tmp_path):
    folder = tmp_path / "warcs"
    folder.mkdir()
    good = iter(NAMES)
    # A gzip member cut off at the end of the file.
    truncated = Warc(folder / "a-truncated.warc.gz")
    truncated.response("https://e.org/a1", page(next(good)))
    truncated.response("https://e.org/a2", page(next(good)))
    truncated.close()
    data = truncated.path.read_bytes()
    truncated.path.write_bytes(data[: len(data) - 200])
    # A record whose Content-Length is 10 bytes short, between two good ones.
    lying = Warc(folder / "b-lying.warc", gz=False)
    lying.response("https://e.org/b1", page(next(good)))
    lying.response("https://e.org/b2-lies", page(next(good)))
    lying.response("https://e.org/b3", page(next(good)))
    lying.close()
    raw = lying.path.read_bytes()
    second = raw.index(b"WARC-Target-URI: https://e.org/b2-lies")
    length_at = raw.index(b"Content-Length: ", second)
    line_end = raw.index(b"\r\n", length_at)
    length = int(raw[length_at + 16 : line_end])
    lying.path.write_bytes(
        raw[:length_at] + f"Content-Length: {length - 10}".encode() + raw[line_end:]
    )
    # A chunked body with a broken chunk, an oversized body, and garbage over a record.
    mixed = Warc(folder / "c-mixed.warc.gz")
    mixed.response(
        "https://e.org/c1-chunked",
        b"5\r\nhello\r\nZZ\r\nbroken",
        [*HTML, ("Transfer-Encoding", "chunked")],
    )
    mixed.response("https://e.org/c2-huge", b"<html>" + b"x" * 30_000 + b"</html>")
    mixed.response("https://e.org/c3-overwritten", page(next(good)))
    mixed.response("https://e.org/c4", page(next(good)))
    mixed.close()
    blob = mixed.path.read_bytes()
    members = [i for i in range(len(blob)) if blob.startswith(b"\x1f\x8b\x08", i)]
    hit = members[2] + 5  # inside the third record's gzip member
    mixed.path.write_bytes(blob[:hit] + b"\x00" * 40 + blob[hit + 40 :])
    # Not a WARC file at all, named as one.
    (folder / "d-not.warc").write_text("This is a plain text note, not an archive.\n" * 20)
    last = Warc(folder / "e-fine.warc.gz")
    last.response("https://e.org/e1", page(next(good)))
    last.close()

    result = crawl(folder, tmp_path / "news.db", "NEWS_FILES_MAX_BYTES=20000")
    assert result.returncode == 1, result.stderr[-3000:]
    stored = {url for (url,) in result.rows("SELECT url FROM articles")}
    assert stored == {
        "https://e.org/a1",
        "https://e.org/b1",
        "https://e.org/b3",
        "https://e.org/c4",
        "https://e.org/e1",
    }
    log = result.stderr
    assert f"Broken WARC file {folder / 'a-truncated.warc.gz'} at byte " in log
    assert ": truncated (" in log
    assert f"Skipped record at {folder / 'b-lying.warc'}:" in log and "bad_content_length" in log
    assert f"Skipped record at {folder / 'c-mixed.warc.gz'}:0: broken_chunked" in log
    assert "too_large (HTTP body over NEWS_FILES_MAX_BYTES (20000 B))" in log
    assert f"Broken WARC file {folder / 'c-mixed.warc.gz'} at byte " in log and "unreadable" in log
    assert f"Broken WARC file {folder / 'd-not.warc'} at byte 0: not_warc" in log
    assert "Traceback" not in log
    [(status, errors)] = result.rows("SELECT status, errors FROM crawl_runs")
    assert status == "failed" and errors >= 3


@pytest.mark.slow
def test_a_killed_run_resumes_at_its_last_committed_record(tmp_path):
    archive = Warc(tmp_path / "big.warc.gz")
    for number in range(400):
        name = NAMES[number % len(NAMES)]
        archive.response(f"https://e.org/{number}", page(name, f"Dispatch number {number}."))
    archive.close()
    database = tmp_path / "news.db"
    command = scrapy_command(
        ["crawl", "warc", "-a", f"path={archive.path}"], database, "NEWS_BATCH_SIZE=20"
    )
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stored = 0
        while stored < 60 and proc.poll() is None:
            time.sleep(0.1)
            if database.exists():
                with closing(sqlite3.connect(database)) as conn:
                    try:
                        stored = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
                    except sqlite3.OperationalError:
                        stored = 0
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    with closing(sqlite3.connect(database)) as conn:
        before = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        [(offset,)] = conn.execute("SELECT offset FROM warc_files").fetchall()
    assert 0 < before < 400 and offset > 0

    rerun = crawl(archive.path, database)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"Resuming {archive.path} at byte {offset}" in rerun.stderr
    assert rerun.rows("SELECT COUNT(*), COUNT(DISTINCT url) FROM articles") == [(400, 400)]
    # The records before the committed offset were not read again.
    assert ", 0 already stored," in rerun.stdout


def arc_record(header: bytes, body: bytes) -> bytes:
    """One ARC (version 1) record: its header line, with the body's length, then the body."""
    return header + b" " + str(len(body)).encode() + b"\n" + body + b"\n"


def test_arc_files_are_read_too(tmp_path):
    """The older ARC format, as web archives kept it before WARC; each record gzipped."""
    fields = b"1 0 newsdedup\nURL IP-address Archive-date Content-type Archive-length\n"
    filedesc = arc_record(b"filedesc://old.arc 0.0.0.0 20091130101010 text/plain", fields)
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + page("en-library")
    record = arc_record(b"http://e.org/library 192.0.2.1 20091130101010 text/html", http)
    archive = tmp_path / "old.arc.gz"
    archive.write_bytes(gzip.compress(filedesc + b"\n") + gzip.compress(record))

    result = crawl(archive, tmp_path / "news.db")
    assert result.returncode == 0, result.stderr[-3000:]
    [(url, fetched_at, source)] = result.rows("SELECT url, fetched_at, source FROM articles")
    assert (url, source) == ("http://e.org/library", "old.arc.gz")
    assert fetched_at.startswith("2009-11-30 10:10:10")


def test_a_finished_file_that_grew_is_read_on_from_where_it_ended(tmp_path):
    path = tmp_path / "news.warc.gz"
    archive = Warc(path)
    for name in NAMES[:3]:
        archive.response(f"https://e.org/{name}", page(name))
    archive.close()
    size = path.stat().st_size
    database = tmp_path / "news.db"
    first = crawl(path, database)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.rows("SELECT size, offset, finished_at IS NOT NULL FROM warc_files") == [
        (size, size, 1)
    ]

    with path.open("ab") as stream:  # two more records, as a crawler appends them
        writer = WARCWriter(stream, gzip=True)
        for name in NAMES[3:5]:
            http = StatusAndHeaders("200 OK", HTML, protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    f"https://e.org/{name}",
                    "response",
                    payload=io.BytesIO(page(name)),
                    http_headers=http,
                )
            )
    grown = crawl(path, database)
    assert grown.returncode == 0, grown.stderr[-3000:]
    assert f"Resuming {path} at byte {size}" in grown.stderr
    assert "2 new" in grown.stdout and ", 0 already stored," in grown.stdout
    new_size = path.stat().st_size
    assert grown.rows("SELECT size, offset, finished_at IS NOT NULL FROM warc_files") == [
        (new_size, new_size, 1)
    ]
    assert grown.rows("SELECT COUNT(*) FROM articles") == [(5,)]

    again = crawl(path, database)
    assert "'news/warc/files_done_before': 1" in again.stderr

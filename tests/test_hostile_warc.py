"""WARC and ARC files that lie: wrong, absurd or missing lengths, garbage and zero-filled
gaps, error responses, wrong charsets, files replaced under their name. Each file is
written byte by byte as the case needs, and read through the real engine."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from tests.conftest import CrawlResult
from tests.test_hostile_input import deep_tree, remove_deep_tree
from tests.test_warc import NAMES, arc_record, crawl, page


def record(
    url: str,
    body: bytes,
    *,
    status: str = "200 OK",
    length: bytes | None = None,
    content_type: str = "text/html; charset=utf-8",
) -> bytes:
    """One WARC response record; LENGTH replaces its Content-Length's value as it is."""
    http = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n\r\n".encode() + body
    value = str(len(http)).encode() if length is None else length
    head = (
        b"WARC/1.0\r\nWARC-Type: response\r\n"
        b"WARC-Record-ID: <urn:uuid:" + hashlib.md5(url.encode()).hexdigest().encode() + b">\r\n"
        b"WARC-Date: 2026-11-30T10:10:10Z\r\nWARC-Target-URI: " + url.encode() + b"\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: " + value + b"\r\n\r\n"
    )
    return head + http + b"\r\n\r\n"


def good(number: int) -> tuple[str, bytes]:
    name = NAMES[number % len(NAMES)]
    return f"https://e.org/{number}", page(name, f"Dispatch number {number} of the wire.")


def stored(result: CrawlResult) -> set[str]:
    return {url for (url,) in result.rows("SELECT url FROM articles")}


def gz_file(path: Path, records: list[bytes]) -> Path:
    path.write_bytes(b"".join(gzip.compress(r) for r in records))
    return path


def plain_file(path: Path, records: list[bytes]) -> Path:
    path.write_bytes(b"".join(records))
    return path


LIES = {
    "long_300": lambda n: str(n + 300).encode(),
    "long_5k": lambda n: str(n + 5000).encode(),
    "short": lambda n: str(n - 40).encode(),
    "letters": lambda _n: b"zz",
    "negative": lambda _n: b"-5",
    "empty": lambda _n: b"",
    "huge": lambda _n: b"1" + b"0" * 30,
}


def lying_records(lie: str) -> tuple[list[bytes], set[str]]:
    """Three good records, one that lies, three good ones; and the URLs to be stored."""
    records, urls = [], set()
    for number in range(7):
        url, body = good(number)
        if number == 3:
            http_length = len("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n")
            records.append(record(url + "-lies", body, length=LIES[lie](http_length + len(body))))
        else:
            records.append(record(url, body))
            urls.add(url)
    return records, urls


def assert_clean_failure(result: CrawlResult, path: Path) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"{path}" in result.stderr


@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_lying_length_in_a_warc_gz_costs_its_record_alone(tmp_path: Path, lie: str) -> None:
    records, urls = lying_records(lie)
    path = gz_file(tmp_path / "lies.warc.gz", records)
    later = gz_file(tmp_path / "z-later.warc.gz", [record(*good(9))])

    result = crawl(tmp_path, tmp_path / "news.db")
    assert stored(result) == urls | {good(9)[0]}, result.stderr[-3000:]
    assert_clean_failure(result, path)
    assert "bad_content_length" in result.stderr
    assert f"Skipped record at {path}:" in result.stderr
    # Read to its end, and not read again.
    [(finished,)] = result.rows(
        "SELECT finished_at IS NOT NULL FROM warc_files WHERE path = ?", str(path)
    )
    assert finished == 1
    assert later.exists()


@pytest.mark.slow
@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_lying_length_in_a_plain_warc_costs_its_record_alone(tmp_path: Path, lie: str) -> None:
    records, urls = lying_records(lie)
    path = plain_file(tmp_path / "lies.warc", records)

    result = crawl(path, tmp_path / "news.db")
    assert stored(result) == urls, result.stderr[-3000:]
    assert_clean_failure(result, path)
    assert result.returncode == 1
    [(status, errors)] = result.rows("SELECT status, errors FROM crawl_runs")
    assert status == "failed" and errors >= 1


def test_garbage_and_partial_records_cost_no_record_after_them(tmp_path: Path) -> None:
    urls = set()
    parts = []
    for number in range(6):
        url, body = good(number)
        whole = record(url, body)
        if number == 1:
            parts.append(b"garbage that is no record at all\r\n" * 3)
        if number == 3:
            parts.append(whole[: len(whole) // 2])  # a partial record, cut mid-body
        parts.append(whole)
        urls.add(url)
    path = plain_file(tmp_path / "garbage.warc", parts)

    result = crawl(path, tmp_path / "news.db")
    assert result.returncode == 1
    # Record 1 follows garbage, record 3 a partial copy of itself: nothing is lost.
    assert stored(result) == urls, result.stderr[-3000:]
    assert "Broken WARC file" in result.stderr and "bad_content_length" in result.stderr
    assert_clean_failure(result, path)


def test_a_bad_length_in_an_arc_gz_costs_its_record_alone(tmp_path: Path) -> None:
    fields = b"1 0 newsdedup\nURL IP-address Archive-date Content-type Archive-length\n"
    members = [
        gzip.compress(arc_record(b"filedesc://x.arc 0.0.0.0 20091130101010 text/plain", fields))
    ]
    urls = set()
    for number in range(5):
        url, body = good(number)
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body
        line = f"{url} 192.0.2.1 20091130101010 text/html".encode()
        if number == 2:
            members.append(gzip.compress(line + b" zz\n" + http + b"\n"))
        elif number == 3:
            members.append(
                gzip.compress(line + b" " + str(len(http) + 900).encode() + b"\n" + http + b"\n")
            )
        else:
            members.append(gzip.compress(arc_record(line, http)))
            urls.add(url)
    path = tmp_path / "old.arc.gz"
    path.write_bytes(b"".join(members))

    result = crawl(path, tmp_path / "news.db")
    assert stored(result) == urls, result.stderr[-3000:]
    assert_clean_failure(result, path)


@pytest.mark.slow
@pytest.mark.parametrize("compressed", [True, False])
def test_a_zero_filled_gap_is_crossed_in_linear_time(tmp_path: Path, compressed: bool) -> None:
    before, after = [record(*good(n)) for n in range(2)], [record(*good(n)) for n in range(2, 4)]
    gap = b"\x00" * (64 << 20)
    if compressed:
        data = b"".join(gzip.compress(r) for r in before) + gap
        data += b"".join(gzip.compress(r) for r in after)
    else:
        data = b"".join(before) + gap + b"".join(after)
    path = tmp_path / ("gap.warc.gz" if compressed else "gap.warc")
    path.write_bytes(data)

    # run_scrapy's own timeout bounds the run: before, 64 MB of zeros took minutes.
    result = crawl(path, tmp_path / "news.db")
    assert stored(result) == {good(n)[0] for n in range(4)}, result.stderr[-3000:]
    assert result.returncode == 1
    assert f"Broken WARC file {path} at byte " in result.stderr
    assert_clean_failure(result, path)


def test_error_responses_are_not_articles(tmp_path: Path) -> None:
    statuses = [
        "404 Not Found",
        "500 Internal Server Error",
        "301 Moved Permanently",
        "403 Forbidden",
        "410 Gone",
        "204 No Content",
        "206 Partial Content",
    ]
    records = [record(*good(0))]
    for number, status in enumerate(statuses, start=1):
        url, body = good(number)
        records.append(record(url, body, status=status))
    path = gz_file(tmp_path / "errors.warc.gz", records)

    result = crawl(path, tmp_path / "news.db")
    assert result.returncode == 0, result.stderr[-3000:]
    assert stored(result) == {good(0)[0]}
    assert "'news/warc/skipped/http_status': 7" in result.stderr


def test_warc_charsets_are_read_by_the_web_sources_rules(tmp_path: Path) -> None:
    text = page("fr-crue").decode()
    records = [
        # A latin-1 header over UTF-8 bytes.
        record(
            "https://e.org/latin1-header",
            text.encode(),
            content_type="text/html; charset=iso-8859-1",
        ),
        # Windows-1252 bytes, declared nowhere.
        record(
            "https://e.org/undeclared",
            text.replace("Saint", "Sainte").encode("cp1252"),
            content_type="text/html",
        ),
        # A UTF-16 header over ASCII-compatible UTF-8 bytes.
        record(
            "https://e.org/utf16-header",
            text.replace("Saint", "San").encode(),
            content_type="text/html; charset=utf-16",
        ),
        # Windows-1252 bytes under a UTF-8 header.
        record(
            "https://e.org/cp1252-under-utf8",
            text.replace("Saint", "Santo").encode("cp1252"),
            content_type="text/html; charset=utf-8",
        ),
    ]
    path = gz_file(tmp_path / "charsets.warc.gz", records)

    result = crawl(path, tmp_path / "news.db", "NEWS_NEAR_THRESHOLD=0.99")
    assert result.returncode == 0, result.stderr[-3000:]
    texts = dict(result.rows("SELECT url, text FROM articles"))
    assert len(texts) == 4, result.stderr[-3000:]
    for url, body in texts.items():
        assert "préfecture a ordonné" in body and "\ufffd" not in body and "Ã" not in body, url


def test_a_file_replaced_under_its_name_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "daily.warc"
    first = [record(*good(n)) for n in range(10)]
    plain_file(path, first)
    database = tmp_path / "news.db"
    assert crawl(path, database).returncode == 0
    size = path.stat().st_size

    # The same size, other records: the same bytes with other URLs of the same length.
    replaced = [r.replace(b"https://e.org/", b"https://f.org/") for r in first]
    plain_file(path, replaced)
    assert path.stat().st_size == size
    again = crawl(path, database)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len({u for u in stored(again) if u.startswith("https://f.org/")}) == 10

    # A larger file of other records is read from its start, not resumed in its middle.
    bigger = [record(*good(n)).replace(b"https://e.org/", b"https://g.org/") for n in range(14)]
    plain_file(path, bigger)
    third = crawl(path, database)
    assert third.returncode == 0, third.stderr[-3000:]
    assert len({u for u in stored(third) if u.startswith("https://g.org/")}) == 14
    assert "Resuming" not in third.stderr


@pytest.mark.slow
def test_a_folder_chain_1100_deep_is_walked_without_recursion(tmp_path: Path) -> None:
    root = tmp_path / "warcs"
    root.mkdir()
    gz_file(root / "top.warc.gz", [record(*good(0))])
    gz_file(deep_tree(root, 1100) / "deep.warc.gz", [record(*good(1))])
    try:
        result = crawl(root, tmp_path / "news.db", "NEWS_FILES_MAX_DEPTH=2000")
        capped = crawl(root, tmp_path / "capped.db", "NEWS_FILES_MAX_DEPTH=100")
    finally:
        remove_deep_tree(root, 1100)
    assert result.returncode == 0, result.stderr[-3000:]
    assert stored(result) == {good(0)[0], good(1)[0]}
    assert "RecursionError" not in result.stderr
    assert stored(capped) == {good(0)[0]}
    assert "too_deep (more than NEWS_FILES_MAX_DEPTH=100 folders below" in capped.stderr

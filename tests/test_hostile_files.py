"""Hostile and malformed files: each gets a logged reason and a count; good files are stored."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT, SAMPLE, scrapy_command

GOOD = sorted(SAMPLE.glob("fr-*.txt"))[:2]
FRENCH = (
    "Le marché couvert rouvre après travaux\n"
    "Les commerçants du marché couvert ont retrouvé leurs étals lundi, après huit mois de "
    "travaux qui ont remis à neuf la charpente, l'éclairage et les chambres froides. "
    "La mairie promet des horaires élargis le samedi et une halle ouverte jusqu'à vingt heures.\n"
)


def build(folder: Path) -> None:
    folder.mkdir()
    for path in GOOD:
        (folder / path.name).write_bytes(path.read_bytes())
    # 50 MB of text: refused before it is read.
    with (folder / "huge.txt").open("wb") as out:
        line = ("Une ligne de texte parmi tant d'autres. " * 4 + "\n").encode()
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            out.write(line)
    # HTML nested 10,000 deep around its only paragraph.
    deep = "<div>" * 10_000 + "<p>" + "Un paragraphe enfoui. " * 30 + "</p>" + "</div>" * 10_000
    (folder / "deep.html").write_text(f"<html><body>{deep}</body></html>", "utf-8")
    # NUL bytes past the sniffed head: a text file with stray NULs, stored without them.
    (folder / "nul.txt").write_bytes(
        FRENCH.encode() + b"x" * 9000 + b"\nFin du texte\x00 avec un octet nul.\n"
    )
    # UTF-8 and Windows-1252 pasted into one file.
    (folder / "mixed.txt").write_bytes(
        FRENCH.encode("utf-8")
        + "Ajouté plus tard : les élus saluent l'opération.\n".encode("cp1252")
    )
    # Boilerplate and nothing else.
    (folder / "only-boilerplate.txt").write_text(
        "Articles connexes\nLaisser un commentaire\nPartager\nÀ lire aussi : autre chose\n", "utf-8"
    )
    # A symlink loop between two files, a folder that links to its parent, and a FIFO.
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)
    os.mkfifo(folder / "pipe.txt")


def test_hostile_files(tmp_path, crawl_files):
    folder = tmp_path / "inbox"
    build(folder)
    result = crawl_files(folder)
    assert result.returncode == 0, result.stderr[-3000:]

    stored = {Path(url).name: text for url, text in result.rows("SELECT url, text FROM articles")}
    assert set(stored) == {*(p.name for p in GOOD), "nul.txt", "mixed.txt"}
    assert "\x00" not in stored["nul.txt"] and stored["nul.txt"].endswith("avec un octet nul.")
    assert "Ajouté plus tard : les élus saluent" in stored["mixed.txt"]
    assert "étals" in stored["mixed.txt"]

    [(reasons,)] = result.rows("SELECT dropped_reasons FROM crawl_runs")
    assert json.loads(reasons) == {
        "too_large": 1,
        "no_text": 1,
        "too_short": 1,
        "unreadable": 2,
        "not_a_file": 1,
    }
    log = result.stderr
    assert "huge.txt: too_large" in log
    assert "Dropped: no_text: " in log and "deep.html" in log
    assert "too_short: " in log and "only-boilerplate.txt: cleaned text has" in log
    assert "loop-a.txt: unreadable (broken symlink" in log
    assert "pipe.txt: not_a_file" in log


HOSTILE_TITLE = """Robert'); DROP TABLE articles;-- "quoted" AND title:* NEAR(a b) OR ^x"""


def test_hostile_title_and_url_are_stored_and_searched_verbatim(tmp_path, crawl_files):
    folder = tmp_path / "inbox"
    folder.mkdir()
    hostile = folder / "o'brien; DROP TABLE articles;--\".txt"
    hostile.write_text(HOSTILE_TITLE + "\n" + FRENCH.split("\n", 1)[1] * 2, "utf-8")
    (folder / GOOD[0].name).write_bytes(GOOD[0].read_bytes())
    result = crawl_files(folder)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.rows("SELECT COUNT(*) FROM articles") == [(2,)]
    [(title, url)] = result.rows("SELECT title, url FROM articles WHERE title LIKE ?", "Robert'%")
    assert title == HOSTILE_TITLE
    assert url == hostile.as_uri()

    command = scrapy_command(["search", "--literal", HOSTILE_TITLE], result.database)
    found = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[0].endswith(HOSTILE_TITLE)
    assert found.stdout.splitlines()[-1] == "1 result"
    # Without --literal the same words are FTS5 syntax, and malformed: refused, exit 2.
    refused = subprocess.run(
        scrapy_command(["search", HOSTILE_TITLE], result.database),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert "malformed search query" in refused.stderr
    assert result.rows("SELECT COUNT(*) FROM articles") == [(2,)]

    # A rerun finds both files stored under the very URL they were stored with (a canonical
    # spelling would unquote the quote and semicolon), so neither is read again.
    again = crawl_files(folder)
    assert again.returncode == 0
    assert "'news/items/already_stored': 2" in again.stderr
    assert "news/cpu/cleaning" not in again.stderr
    assert again.rows("SELECT COUNT(*) FROM articles") == [(2,)]

"""Bad files are skipped with a logged reason and counted; every good file is still stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, run_scrapy

GOOD = sorted(SAMPLE.glob("en-*.txt"))[:3]
ACCENTED = (
    "Les vignerons de Côte-d’Or déjà à pied d’œuvre\n"
    "Les vendanges ont débuté très tôt cette année : été précoce, grappes légères, "
    "et une qualité jugée « très prometteuse » par les œnologues de la région. "
    "Les équipes de cueilleurs travaillent dès l'aube pour éviter la chaleur de l'après-midi, "
    "et les caves réfrigèrent les raisins avant le pressurage.\n"
)


def build_folder(folder: Path) -> None:
    folder.mkdir()
    for path in GOOD:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "binary.html").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_bytes(b"  \n\t\n")
    (folder / "garbled.txt").write_bytes(bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xC3, 0x28]) * 200)
    (folder / "short.txt").write_text("Brève\nUne seule ligne.\n", "utf-8")
    (folder / "cp1252.txt").write_bytes(ACCENTED.encode("cp1252"))
    (folder / "latin1.txt").write_bytes(
        ACCENTED.replace("’", "'").replace("œ", "oe").encode("latin-1")
    )
    (folder / "utf16.txt").write_bytes(ACCENTED.replace("Côte", "Haute-Côte").encode("utf-16"))
    (folder / "notes.md").write_text("not an article format", "utf-8")
    (folder / "huge.txt").write_text("Titre\n" + "mot " * 40_000, "utf-8")
    outside = folder.parent / "outside.txt"
    outside.write_text(ACCENTED.replace("vignerons", "viticulteurs"), "utf-8")
    (folder / "link-out.txt").symlink_to(outside)


def test_bad_files_are_counted_and_good_ones_stored(tmp_path, crawl_files):
    folder = tmp_path / "inbox"
    build_folder(folder)
    result = crawl_files(folder, "NEWS_FILES_MAX_BYTES=100000")

    stored = {Path(url).name: text for url, text in result.rows("SELECT url, text FROM articles")}
    assert set(stored) == {*(p.name for p in GOOD), "cp1252.txt", "latin1.txt", "utf16.txt"}
    assert "très prometteuse" in stored["cp1252.txt"] and "œnologues" in stored["cp1252.txt"]
    assert "été précoce" in stored["latin1.txt"]
    assert "équipes" in stored["utf16.txt"]

    [(reasons, dropped, status)] = result.rows(
        "SELECT dropped_reasons, items_dropped, status FROM crawl_runs"
    )
    assert json.loads(reasons) == {
        "binary": 1,
        "empty": 2,
        "undecodable": 1,
        "too_short": 1,
        "too_large": 1,
        "outside_folder": 1,
    }
    assert dropped == 7
    # Skipped files are warnings, not errors: the run did its job.
    assert status == "finished" and result.returncode == 0
    for name, reason in [
        ("binary.html", "binary"),
        ("garbled.txt", "undecodable"),
        ("huge.txt", "too_large"),
        ("link-out.txt", "outside_folder"),
    ]:
        assert any(name in line and reason in line for line in result.stderr.splitlines()), name
    assert "too_short: file://" in result.stderr


def test_missing_folder_is_one_line_error_and_nonzero_exit(tmp_path, crawl_files):
    missing = tmp_path / "no-such-folder"
    result = crawl_files(missing)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "] ERROR:" in line]
    assert errors == [errors[0]] and f"{missing} does not exist" in errors[0]
    assert "Traceback" not in result.stderr
    assert result.rows("SELECT status, errors FROM crawl_runs") == [("failed", 1)]
    assert "run 1 failed" in result.stdout


def test_unwritable_store_is_one_line_error_and_nonzero_exit(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    result = run_scrapy(
        ["crawl", "files", "-a", f"path={SAMPLE}"], blocker / "news.db", "LOG_LEVEL=INFO"
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "] ERROR:" in line]
    assert len(errors) == 1 and "cannot open store" in errors[0]
    assert "Traceback" not in result.stderr
    assert "failed (store_error)" in result.stdout.splitlines()[-1]


def test_text_without_words_is_stored_and_reruns_still_start(tmp_path, crawl_files):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "ornaments.txt").write_text("★ ✦ ✧\n" + "★ ✦ ✧ — … · " * 40, "utf-8")
    (folder / "copy.txt").write_text("★ ✦ ✧\n" + "★ ✦ ✧ — … · " * 40, "utf-8")
    (folder / GOOD[0].name).write_bytes(GOOD[0].read_bytes())
    first = crawl_files(folder)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.rows("SELECT items_new, items_exact_duplicate FROM crawl_runs") == [(2, 1)]
    (folder / "later.txt").write_bytes(GOOD[1].read_bytes())
    second = crawl_files(folder)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.rows("SELECT COUNT(*) FROM articles") == [(4,)]


# Settings of the wrong kind or out of range, and the line each gets.
BAD_SETTINGS = {
    "NEWS_DEDUP_THRESHOLD=2": "NEWS_DEDUP_THRESHOLD must be in (0, 1], got 2.0",
    "NEWS_STORY_THRESHOLD=abc": "NEWS_STORY_THRESHOLD must be a number, got 'abc'",
    "NEWS_BATCH_SIZE=0": "NEWS_BATCH_SIZE must be at least 1, got 0",
    "NEWS_MIN_TEXT_CHARS=0": "NEWS_MIN_TEXT_CHARS must be at least 1, got 0",
    "NEWS_FILES_MAX_BYTES=-1": "NEWS_FILES_MAX_BYTES must be at least 1, got -1",
    "NEWS_COMMIT_INTERVAL=nan": "NEWS_COMMIT_INTERVAL must be a number, got 'nan'",
    "NEWS_PROGRESS_INTERVAL=-5": "NEWS_PROGRESS_INTERVAL must not be negative, got -5.0",
    "NEWS_LOCK_WAIT=nan": "NEWS_LOCK_WAIT must be a number, got 'nan'",
    "NEWS_SQLITE_MMAP_MB=-5": "NEWS_SQLITE_MMAP_MB must not be negative, got -5",
    "NEWS_MINHASH_PERM=1e20": "NEWS_MINHASH_PERM must be a whole number, got '1e20'",
    "NEWS_REFRESH=maybe": "NEWS_REFRESH must be True or False, got 'maybe'",
    "NEWS_DATABASE_URL=not a url": "NEWS_DATABASE_URL is not a database URL: 'not a url'",
}


@pytest.mark.parametrize(
    "settings",
    [["NEWS_DEDUP_THRESHOLD=abc"], list(BAD_SETTINGS)],
    ids=["one", "all"],
)
def test_bad_settings_are_one_line_each_and_stop_the_run_before_anything_is_read(
    tmp_path, settings
):
    # Scrapy only disables a pipeline whose settings it refuses; a run without dedup would
    # store every article as new, unattended. The crawl command checks every setting first.
    folder = tmp_path / "in"
    folder.mkdir()
    for path in GOOD:
        (folder / path.name).write_bytes(path.read_bytes())
    database = tmp_path / "news.db"
    result = run_scrapy(["crawl", "files", "-a", f"path={folder}"], database, *settings)
    assert result.returncode == 1
    expected = {
        **BAD_SETTINGS,
        "NEWS_DEDUP_THRESHOLD=abc": "NEWS_DEDUP_THRESHOLD must be a number, got 'abc'",
    }
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert sorted(errors) == sorted(f"error: {expected[setting]}" for setting in settings)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not database.exists()  # not even a run in the ledger


def test_a_crawl_without_its_store_component_stops_at_once(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / GOOD[0].name).write_bytes(GOOD[0].read_bytes())
    database = tmp_path / "news.db"
    without = 'EXTENSIONS={"crawler.extensions.ProgressLog": 500}'
    result = run_scrapy(["crawl", "files", "-a", f"path={folder}"], database, without)
    assert result.returncode == 1
    assert result.stderr.count("Stopping the run:") == 1
    assert "needs crawler.store.CrawlStore in EXTENSIONS" in result.stderr
    assert "Traceback" not in result.stderr
    assert not database.exists()

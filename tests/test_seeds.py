"""The seed corpus through a real `files` crawl: cleaning, dedup decisions and idempotence."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CrawlResult

TRAILER_HEADINGS = ("Articles connexes", "Laisser un commentaire")


def last_body_paragraph(path: Path) -> str:
    lines = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line in TRAILER_HEADINGS:
            return lines[index - 1]
    return lines[-1]


def text_of(result: CrawlResult, path: Path) -> str:
    [(text,)] = result.rows("SELECT text FROM articles WHERE url = ?", path.resolve().as_uri())
    return text


def test_seed_crawl_stores_five_clean_canonical_articles(seeds, crawl_files):
    result = crawl_files(seeds)
    assert result.returncode == 0, result.stderr[-3000:]

    rows = result.rows("SELECT url, duplicate_of, similarity, story_id FROM articles")
    assert len(rows) == 5
    assert all(dup is None and sim is None for _url, dup, sim, _story in rows)
    # No copies among them; 001 and 002 are one story told twice (tests/test_stories.py).
    assert len({story for *_rest, story in rows}) == 4
    assert result.rows("SELECT COUNT(*) FROM articles_dedup") == [(5,)]

    seed_002 = next(seeds.glob("002_*.txt"))
    text_002 = text_of(result, seed_002)
    assert "Articles connexes" not in text_002
    for teaser in ("Gemini 3 : premières impressions", "Gemini 3 Pro", "Ruée vers l’IA"):
        assert teaser not in text_002
    title_002 = (
        "Anthropic obtient un million de puces TPU et 1 GW de capacité de calcul via Google Cloud"
    )
    assert result.rows("SELECT title FROM articles WHERE url = ?", seed_002.resolve().as_uri()) == [
        (title_002,)
    ]
    assert title_002 not in text_002  # the headline is the title, not body text, and never twice

    seed_001 = next(seeds.glob("001_*.txt"))
    assert "Laisser un commentaire" not in text_of(result, seed_001)

    for path in sorted(seeds.glob("*.txt")):
        text = text_of(result, path)
        assert text.endswith(last_body_paragraph(path)), path.name

    languages = result.rows("SELECT DISTINCT language FROM articles")
    assert languages == [("fr",)]


def test_run_ledger_and_summary(seeds, crawl_files):
    result = crawl_files(seeds)
    assert result.returncode == 0
    [run] = result.rows(
        "SELECT spider, arguments, status, finish_reason, items_new, items_exact_duplicate, "
        "items_near_duplicate, items_dropped, errors, started_at <= finished_at FROM crawl_runs"
    )
    spider, arguments, status, reason, new, exact, near, dropped, errors, ordered = run
    assert (spider, status, reason) == ("files", "finished", "finished")
    assert json.loads(arguments) == {"path": str(seeds)}
    assert (new, exact, near, dropped, errors, ordered) == (5, 0, 0, 0, 0, 1)
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("newsdedup: run 1 finished (finished): 5 new, 0 exact duplicates")
    assert "holds 5 articles" in summary


def test_rerun_adds_no_row_and_keeps_ids(seeds, crawl_files):
    first = crawl_files(seeds)
    before = first.rows("SELECT id, url, story_id FROM articles ORDER BY id")
    second = crawl_files(seeds)
    assert second.returncode == 0
    assert second.rows("SELECT id, url, story_id FROM articles ORDER BY id") == before
    assert second.rows("SELECT items_new, items_already_stored FROM crawl_runs WHERE id = 2") == [
        (0, 5)
    ]
    # Stored files are refused before they are read: nothing is extracted, nothing skipped.
    assert "'news/items/already_stored': 5" in second.stderr
    assert "news/cpu/cleaning" not in second.stderr
    assert "Skipped" not in second.stderr
    assert "cleaning workers" not in second.stderr  # with nothing to clean, none is started

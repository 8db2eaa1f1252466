"""scrapy export, search, report and migrate against stores built by real crawls."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command

from db.schema import alembic_config
from tests.conftest import SAMPLE, SEEDS, CrawlResult, require_seeds, run_scrapy


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """The sample corpus and the seeds, crawled into one store."""
    database = tmp_path_factory.mktemp("commands") / "news.db"
    for folder in (SAMPLE, SEEDS):
        if folder.is_dir():
            result = run_scrapy(["crawl", "files", "-a", f"path={folder}"], database)
            assert result.returncode == 0, result.stderr[-2000:]
    return database


def scrapy(store: Path, *args: str) -> CrawlResult:
    return run_scrapy(list(args), store)


def count(store: Path, sql: str) -> int:
    with closing(sqlite3.connect(store)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_export_jsonl_has_one_line_per_deduplicated_article(store):
    result = scrapy(store, "export")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == count(store, "SELECT COUNT(*) FROM articles_dedup") >= 14
    first = json.loads(lines[0])
    assert list(first) == [
        "id",
        "url",
        "source",
        "title",
        "author",
        "site_name",
        "text",
        "published_at",
        "language",
        "fetched_at",
        "story_id",
        "run_id",
        "canonical_url",
        "duplicate_count",
        "syndications",
    ]
    assert sum(json.loads(line)["duplicate_count"] for line in lines) == count(
        store, "SELECT COUNT(*) FROM articles WHERE duplicate_of IS NOT NULL"
    )


def test_export_csv_all_to_a_file_and_by_run(store, tmp_path):
    output = tmp_path / "all.csv"
    result = scrapy(store, "export", "--all", "--format", "csv", "--output", str(output))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(output.read_text("utf-8"))))
    assert len(rows) == count(store, "SELECT COUNT(*) FROM articles")
    assert {"duplicate_of", "similarity", "content_hash"} <= set(rows[0])
    assert "signature" not in rows[0]

    by_run = scrapy(store, "export", "--all", "--run", "1")
    assert len(by_run.stdout.splitlines()) == count(
        store, "SELECT COUNT(*) FROM articles WHERE run_id = 1"
    )
    later = scrapy(store, "export", "--since", "2999-01-01")
    assert later.returncode == 0 and later.stdout == ""
    bad = scrapy(store, "export", "--since", "yesterday")
    assert bad.returncode == 2 and "ISO date" in bad.stderr


def test_search_finds_an_article_by_a_body_word(store):
    result = scrapy(store, "search", "tramway")
    assert result.returncode == 0, result.stderr
    assert "Montclair : les conducteurs de tramway en grève" in result.stdout
    assert "[tramway]" in result.stdout
    hits = [
        json.loads(line) for line in scrapy(store, "search", "--json", "Loire").stdout.splitlines()
    ]
    assert hits and all("loire" in (h["title"] + h["snippet"]).lower() for h in hits)


def test_search_finds_a_seed_by_a_body_word(store):
    require_seeds()
    result = scrapy(store, "search", "--json", "Ironwood")
    [hit] = [json.loads(line) for line in result.stdout.splitlines()]
    assert hit["url"].endswith(".txt") and "001_" in hit["url"]


@pytest.mark.parametrize("query", ['bad"query', "AND OR", "title:("])
def test_malformed_search_is_a_clear_error(store, query):
    result = scrapy(store, "search", query)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: malformed search query")
    assert "Traceback" not in result.stderr


def test_commands_refuse_a_missing_store(tmp_path):
    for args in (["export"], ["search", "x"], ["report"]):
        result = scrapy(tmp_path / "none.db", *args)
        assert result.returncode == 1
        assert result.stderr.strip().startswith("error: no store at")
    assert not (tmp_path / "none.db").exists()


PAGE = """<!DOCTYPE html><html lang="en"><head><title>{title}</title>
<meta name="author" content="Desk">{date}</head><body><nav><a href="/">Home</a></nav>
<article><h1>{title}</h1><p>{body}</p><p>Officials said more details would follow next week,
once the figures for the whole region have been checked by the statistics office.</p></article>
<footer>© Courier</footer></body></html>"""
DATE = '<meta property="article:published_time" content="2026-09-{day:02d}T08:00:00Z">'
WORDS = [
    "harbour",
    "tram",
    "council",
    "budget",
    "school",
    "museum",
    "bridge",
    "river",
    "market",
    "festival",
]


def write_pages(folder: Path, start: int, with_date: bool) -> None:
    for n in range(start, start + 5):
        body = " ".join(WORDS[(n + i) % len(WORDS)] + str(n * i) for i in range(60))
        date = DATE.format(day=n) if with_date else ""
        html = PAGE.format(title=f"Report {n} on the {WORDS[n % 10]}", date=date, body=body)
        (folder / f"page-{n:02d}.html").write_text(html, "utf-8")


@pytest.mark.slow
def test_report_flags_a_source_whose_dates_vanished(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    database = tmp_path / "news.db"
    write_pages(site, 1, with_date=True)
    assert run_scrapy(["crawl", "files", "-a", f"path={site}"], database).returncode == 0
    write_pages(site, 10, with_date=False)
    assert run_scrapy(["crawl", "files", "-a", f"path={site}"], database).returncode == 0

    report = json.loads(scrapy(database, "report", "--json").stdout)
    assert [run["new"] for run in report["runs"]] == [5, 5]
    [source] = report["sources"]
    assert source["fill_rates"]["published_at"] == 0.5
    assert len(source["flags"]) == 1 and source["flags"][0].startswith("published_at filled in 0%")

    text = scrapy(database, "report", "--runs", "1")
    assert text.returncode == 0
    assert "FLAG: published_at filled in 0% of the last run's articles, 100% before" in text.stdout
    assert "\n1 source flagged\n" in text.stdout
    # Last, the URLs seen and not stored (the files source records none).
    assert text.stdout.strip().endswith("URLs seen and not stored: 0")


def test_report_is_quiet_on_a_steady_source(store):
    report = json.loads(scrapy(store, "report", "--json").stdout)
    assert all(source["flags"] == [] for source in report["sources"])
    assert report["runs"][0]["status"] == "finished"


def test_migrate_upgrades_the_first_schema_and_keeps_every_row(tmp_path):
    database = tmp_path / "old.db"
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("CREATE TABLE placeholder (x)")  # an existing file, as a user's would be
    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{database}")
    command.upgrade(cfg, "0001")
    rows = {
        "crawl_runs": "INSERT INTO crawl_runs VALUES (1, 'files', '{\"path\": \"/x\"}', "
        "'2026-01-01 10:00:00', '2026-01-01 10:01:00', 'finished', 'finished', 2, 0, 1, 0, 1, "
        "'{\"too_short\": 1}', 0)",
        "stories": "INSERT INTO stories VALUES (1, NULL, '2026-01-01 10:00:00')",
        "articles": "INSERT INTO articles VALUES "
        "(1, 'file:///x/a.txt', '/x', 'Ancien titre', NULL, NULL, 'Le texte « ancien » du port', "
        "NULL, 'fr', '2026-01-01 10:00:00', 'h1', X'0102', NULL, NULL, 1, 1), "
        "(2, 'file:///x/b.txt', '/x', 'Copie', NULL, NULL, 'Le texte ancien du port', NULL, "
        "'fr', '2026-01-01 10:00:01', 'h2', X'0102', 1, 0.8, 1, 1)",
    }
    with closing(sqlite3.connect(database)) as conn:
        for sql in rows.values():
            conn.execute(sql)
        conn.execute("UPDATE stories SET canonical_id = 1")
        conn.commit()
        before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in rows}

    result = scrapy(database, "migrate")
    assert result.returncode == 0, result.stderr
    assert "schema revision 0012" in result.stdout
    with closing(sqlite3.connect(database)) as conn:
        after = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in rows}
    # articles gained story_signature and story_similarity, empty until computed, then
    # canonical_url (empty) and duplicate_kind, filled for the copy already stored: the
    # same site (files have none) and another hash make it a near copy; then story_terms
    # and story_evidence, empty until the stories stage signs the store.
    assert [row[:-6] for row in after["articles"]] == before["articles"]
    assert [row[-6:] for row in after["articles"]] == [
        (None, None, None, None, None, None),
        (None, None, None, "near", None, None),
    ]
    # stories gained merged_into and counts, filled in from the articles they hold, and an
    # empty centroid.
    assert [row[:3] for row in after["stories"]] == before["stories"]
    assert [row[3:] for row in after["stories"]] == [
        (None, 2, 1, "2026-01-01 10:00:00", "2026-01-01 10:00:01", None)
    ]
    # crawl_runs gained two empty columns, a count of revisions and an empty fleet id;
    # every old value is still there.
    assert [row[:-4] for row in after["crawl_runs"]] == before["crawl_runs"]
    assert after["crawl_runs"][0][-4:] == (None, None, 0, None)
    # Articles stored before the upgrade are searchable after it.
    found = scrapy(database, "search", "--json", "port")
    assert sorted(json.loads(line)["id"] for line in found.stdout.splitlines()) == [1, 2]


def test_migrate_fills_the_kind_of_every_stored_copy(tmp_path):
    """Copies stored before kinds existed get theirs: by site, then by text."""
    database = tmp_path / "old.db"
    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{database}")
    command.upgrade(cfg, "0007")
    article = (
        "INSERT INTO articles (id, url, text, fetched_at, content_hash, signature, "
        "duplicate_of, story_id) VALUES (?, ?, 'text', '2026-01-01 10:00:00', ?, X'01', ?, 1)"
    )
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("INSERT INTO stories (id, created_at) VALUES (1, '2026-01-01 10:00:00')")
        for row in (
            (1, "https://www.example.org/a", "h1", None),
            (2, "https://example.org/print/a", "h1", 1),  # the same site, the same text
            (3, "https://m.example.org/a", "h3", 1),  # the same site, edited
            (4, "https://partner.example.net/a", "h1", 1),  # another site
        ):
            conn.execute(article, row)
        conn.commit()
    result = scrapy(database, "migrate")
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(database)) as conn:
        kinds = conn.execute("SELECT id, duplicate_kind FROM articles ORDER BY id").fetchall()
        view = conn.execute("SELECT duplicate_count, syndications FROM articles_dedup").fetchall()
    assert kinds == [(1, None), (2, "exact"), (3, "near"), (4, "syndicated")]
    assert view == [(3, 1)]

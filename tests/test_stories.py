"""Same-story grouping: seeds, the labelled story set, the time window, merges and stable ids."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_scrapy

sys.path.insert(0, str(ROOT / "benchmarks"))

from dedup_quality import evaluate
from story_pairs import DEV_PAIRS
from story_pairs import run as run_pairs
from story_quality import STORIES, evaluate_stories


def stories_by_seed(result) -> dict[str, int]:
    return {
        Path(url).name[:3]: story
        for url, story in result.rows("SELECT url, story_id FROM articles")
    }


def test_seed_stories_in_any_order_and_across_reruns(seeds, tmp_path):
    first = run_scrapy(["crawl", "files", "-a", f"path={seeds}"], tmp_path / "a.db")
    assert first.returncode == 0, first.stderr[-2000:]
    story = stories_by_seed(first)
    # 001 and 002 report one deal in different words; 000, 003 and 004 are other news.
    assert story["001"] == story["002"]
    assert len({story[s] for s in ("000", "001", "003", "004")}) == 4
    [(joined,)] = first.rows("SELECT story_similarity FROM articles WHERE url LIKE '%/002_%'")
    assert joined >= 0.28  # NEWS_STORY_THRESHOLD
    # Why it joined: the shared terms that weighed most, named in the article's evidence.
    [(evidence,)] = first.rows("SELECT story_evidence FROM articles WHERE url LIKE '%/002_%'")
    assert "anthropic" in evidence and "google" in evidence, evidence

    again = run_scrapy(["crawl", "files", "-a", f"path={seeds}"], tmp_path / "a.db")
    assert again.returncode == 0
    assert stories_by_seed(again) == story  # no id changes on a rerun
    assert again.rows("SELECT COUNT(*) FROM stories") == [(4,)]

    # The same files ingested in reverse order: other ids, the same grouping.
    reversed_dir = tmp_path / "reversed"
    reversed_dir.mkdir()
    for rank, path in enumerate(sorted(seeds.iterdir(), reverse=True)):
        shutil.copy(path, reversed_dir / f"{rank}-{path.name}")
    other = run_scrapy(["crawl", "files", "-a", f"path={reversed_dir}"], tmp_path / "b.db")
    assert other.returncode == 0, other.stderr[-2000:]
    by_seed = {
        Path(url).name.split("-", 1)[1][:3]: s
        for url, s in other.rows("SELECT url, story_id FROM articles")
    }
    assert by_seed["001"] == by_seed["002"]
    assert len(set(by_seed.values())) == 4


def test_labelled_story_set_scores():
    stories = evaluate_stories()
    assert stories.true_pairs >= 30
    assert stories.f1 >= 0.9, stories
    duplicates = evaluate()
    assert duplicates.f1 >= 0.95, duplicates


def test_near_duplicates_share_their_canonicals_story(crawl_files):
    result = crawl_files(ROOT / "samples" / "news")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.rows(
        "SELECT COUNT(*) FROM articles a JOIN articles c ON c.id = a.duplicate_of "
        "WHERE a.story_id != c.story_id"
    ) == [(0,)]
    assert result.rows("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NOT NULL") == [(24,)]


@pytest.mark.slow  # 15 s or more: several crawls
def test_a_bridging_article_merges_two_stories_only_when_their_centroids_agree(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    # Two reports of one event that share too little to be grouped directly…
    for name in ("fr-solvane-usine-1", "fr-solvane-usine-3"):
        shutil.copy(STORIES / f"{name}.txt", folder)
    runs = {}
    for store in ("merged", "kept"):
        first = run_scrapy(["crawl", "files", "-a", f"path={folder}"], tmp_path / f"{store}.db")
        assert first.returncode == 0, first.stderr[-2000:]
        before = dict(first.rows("SELECT url, story_id FROM articles"))
        assert len(set(before.values())) == 2
        runs[store] = sorted(set(before.values()))
    # …and a third that is close to both (0.48 and 0.22).
    shutil.copy(STORIES / "fr-solvane-usine-2.txt", folder)

    # The two stories' centroids agree at 0.29: above this merge threshold, they merge.
    survivor, absorbed = runs["merged"]
    second = run_scrapy(
        ["crawl", "files", "-a", f"path={folder}"],
        tmp_path / "merged.db",
        "NEWS_STORY_THRESHOLD=0.2",
        "NEWS_STORY_MERGE_THRESHOLD=0.2",
    )
    assert second.returncode == 0, second.stderr[-2000:]
    after = dict(second.rows("SELECT url, story_id FROM articles"))
    assert set(after.values()) == {survivor}  # the older id survives, nothing renumbered
    [(absorbed_id, survivor_id, run_id, reason)] = second.rows(
        "SELECT absorbed_id, survivor_id, run_id, reason FROM story_merges"
    )
    assert (absorbed_id, survivor_id, run_id) == (absorbed, survivor, 2)
    assert "fr-solvane-usine-2.txt" in reason and "centroids agree at 0.2" in reason
    # The absorbed id still resolves to the story that holds its articles.
    assert second.rows("SELECT COALESCE(merged_into, id) FROM stories WHERE id = ?", absorbed) == [
        (survivor,)
    ]
    assert second.rows("SELECT story_id, articles, sources FROM stories_dedup") == [
        (survivor, 3, 1)
    ]
    [(count, first_seen, last_seen)] = second.rows(
        "SELECT article_count, first_seen, last_seen FROM stories WHERE id = ?", survivor
    )
    assert count == 3 and first_seen < last_seen
    assert f"Stories [{absorbed}] merged into story {survivor}" in second.stderr

    # Below the merge threshold, one article is not evidence enough: it joins the story it
    # is closest to, and the other story stays apart.
    kept = run_scrapy(
        ["crawl", "files", "-a", f"path={folder}"],
        tmp_path / "kept.db",
        "NEWS_STORY_THRESHOLD=0.2",
        "NEWS_STORY_MERGE_THRESHOLD=0.4",
    )
    assert kept.returncode == 0, kept.stderr[-2000:]
    stories = dict(kept.rows("SELECT url, story_id FROM articles"))
    by_name = {Path(url).stem: story for url, story in stories.items()}
    assert by_name["fr-solvane-usine-2"] == by_name["fr-solvane-usine-1"]
    assert by_name["fr-solvane-usine-3"] != by_name["fr-solvane-usine-1"]
    assert kept.rows("SELECT COUNT(*) FROM story_merges") == [(0,)]


def page(title: str, paragraphs: list[str], date: str) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<html lang="en"><head><title>{title}</title>'
        f'<meta property="article:published_time" content="{date}T09:00:00+00:00"></head>'
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    )


def test_the_time_window_keeps_a_later_event_apart(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name, date in (
        ("en-kellerby-strike-1", "2026-01-05"),
        ("en-kellerby-strike-2", "2026-03-20"),
    ):
        title, *paragraphs = (STORIES / f"{name}.txt").read_text("utf-8").splitlines()
        (folder / f"{name}.html").write_text(page(title, paragraphs, date), "utf-8")

    apart = run_scrapy(["crawl", "files", "-a", f"path={folder}"], tmp_path / "week.db")
    assert apart.returncode == 0, apart.stderr[-2000:]
    assert [d[:10] for (d,) in apart.rows("SELECT published_at FROM articles ORDER BY id")] == [
        "2026-01-05",
        "2026-03-20",
    ]
    assert len(apart.rows("SELECT DISTINCT story_id FROM articles")) == 2

    wide = run_scrapy(
        ["crawl", "files", "-a", f"path={folder}"],
        tmp_path / "wide.db",
        "NEWS_STORY_WINDOW_DAYS=90",
    )
    assert wide.returncode == 0, wide.stderr[-2000:]
    assert len(wide.rows("SELECT DISTINCT story_id FROM articles")) == 1


def test_a_store_signed_with_earlier_story_features_is_signed_again(seeds, tmp_path):
    folder = tmp_path / "inbox"
    shutil.copytree(seeds, folder)
    first = run_scrapy(["crawl", "files", "-a", f"path={folder}"], tmp_path / "a.db")
    assert first.returncode == 0, first.stderr[-2000:]
    stories = stories_by_seed(first)
    # As a store from before story terms: features 1, no vectors, centroids or counts.
    with closing(sqlite3.connect(tmp_path / "a.db")) as conn:
        conn.execute(
            "UPDATE news_meta SET value = replace(value, '\"features\": 2', '\"features\": 1') "
            "WHERE key = 'story_minhash'"
        )
        conn.execute("UPDATE articles SET story_terms = NULL")
        conn.execute("UPDATE stories SET centroid = NULL")
        conn.execute("DELETE FROM term_counts")
        conn.commit()

    shutil.copy(STORIES / "en-lenn-regatta.txt", folder)
    again = run_scrapy(["crawl", "files", "-a", f"path={folder}"], tmp_path / "a.db")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Story features changed since" in again.stderr
    assert "5 signatures computed now" in again.stderr
    # Every canonical article has its terms again, counted once; every story a centroid;
    # the stories kept their ids.
    assert again.rows(
        "SELECT COUNT(*) FROM articles WHERE story_terms IS NULL AND duplicate_of IS NULL"
    ) == [(0,)]
    assert again.rows("SELECT articles FROM term_counts WHERE term = 0") == [(6,)]
    assert again.rows("SELECT COUNT(*) FROM stories WHERE centroid IS NULL") == [(0,)]
    assert {k: v for k, v in stories_by_seed(again).items() if k[0] == "0"} == stories
    assert (
        '"features": 2'
        in again.rows("SELECT value FROM news_meta WHERE key = 'story_minhash'")[0][0]
    )


@pytest.mark.slow
def test_real_news_pairs_grouped_through_a_real_crawl():
    """The dev set of real same-event and unrelated pairs (../shared/data), all in one store
    through `scrapy crawl files`: today's level, so that a change that loses it fails. The
    issue's target (F1 0.85 in every language) is not reached yet: docs/dedup-and-stories.md."""
    if not DEV_PAIRS.is_file():
        # Shared data, as the seeds: CI must have it; elsewhere the test is skipped.
        if os.environ.get("NEWSDEDUP_REQUIRE_SEEDS"):
            pytest.fail(f"real news pairs not found at {DEV_PAIRS}")
        pytest.skip(f"real news pairs not found at {DEV_PAIRS}")
    result = run_pairs(DEV_PAIRS, {})
    overall = result.languages["all"]
    assert (overall.same, overall.different) == (93, 132)
    assert overall.f1 >= 0.6 and overall.precision >= 0.85, result
    assert all(scores.f1 >= 0.45 for scores in result.languages.values()), result
    # Unrelated articles of one period are not chained into a giant story.
    assert result.largest <= 15, result
    assert result.stored >= result.documents - 5

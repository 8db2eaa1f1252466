"""`scrapy dupes`: the audit of groups and stories, and the replay at another threshold."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, SAMPLE, run_scrapy, scrapy_command
from tests.corpus import write_corpus


def dupes(database, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        scrapy_command(["dupes", *args], database),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def store(sample_store):
    return sample_store


def test_dupes_lists_groups_stories_and_the_pairs_nearest_the_threshold(store):
    shown = dupes(store.database, "--nearest", "2")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("38 articles, 8 near-duplicate groups holding 24 duplicates")
    assert "near-duplicate threshold 0.45" in lines[0]
    # Each member with the similarity that joined it.
    [(member, similarity)] = store.rows(
        "SELECT id, similarity FROM articles WHERE similarity < 1 ORDER BY similarity LIMIT 1"
    )
    assert any(f"near       {similarity:.3f}  article {member} " in line for line in lines)
    # Stories made of more than one group: the tram vote and its contract, the flood and
    # its ebb, both follow-ups within the week.
    assert "Stories (largest first" in shown.stdout
    assert any(line.strip().startswith("joined at 0.") for line in lines)
    # The pairs nearest 0.45, each side, with a word diff.
    start = lines.index("Pairs nearest the threshold (0.45)")
    verdicts = [line for line in lines[start:] if line.startswith("  0.")]
    assert [v.endswith(": duplicate") for v in verdicts] == [True, True, False, False]
    assert f"{similarity:.3f}  article {member} ~ article" in verdicts[0]
    assert any(line.strip().startswith(("- ", "+ ")) for line in lines[start:])


def test_replay_shows_what_would_change_and_only_apply_changes_it(store):
    [(member, canonical, similarity, story)] = store.rows(
        "SELECT id, duplicate_of, similarity, story_id FROM articles WHERE similarity < 1 "
        "ORDER BY similarity LIMIT 1"
    )
    before = store.rows("SELECT * FROM articles ORDER BY id")
    higher = f"{similarity + 0.02:.2f}"

    dry = dupes(store.database, "--threshold", higher)
    assert dry.returncode == 0, dry.stderr
    assert (
        f"separated article {member}: no longer a duplicate of article {canonical} "
        f"(similarity {similarity:.3f})" in dry.stdout
    )
    assert "Dry run: nothing was changed" in dry.stdout
    assert store.rows("SELECT * FROM articles ORDER BY id") == before
    assert store.rows("SELECT COUNT(*) FROM crawl_runs") == [(1,)]

    applied = dupes(store.database, "--threshold", higher, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "Applied as run 2" in applied.stdout
    [(duplicate_of, story_id, signature)] = store.rows(
        "SELECT duplicate_of, story_id, story_signature FROM articles WHERE id = ?", member
    )
    # Now canonical, in the story it was in, with the story signature a canonical needs.
    assert (duplicate_of, story_id) == (None, story)
    assert signature
    [(spider, status, arguments)] = store.rows(
        "SELECT spider, status, arguments FROM crawl_runs WHERE id = 2"
    )
    assert (spider, status) == ("dupes", "finished")
    recorded = json.loads(arguments)
    assert recorded["threshold"] == float(higher) and recorded["previous_threshold"] == 0.45
    assert recorded["changes"]["separated"] >= 1
    # Replayed again, the store already agrees; a crawl at the old setting says it differs.
    assert "0 decisions would change" in dupes(store.database, "--threshold", higher).stdout
    rerun = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], store.database)
    assert rerun.returncode == 0
    assert f"last decided at threshold {float(higher)!r}" in rerun.stderr


def test_a_lower_threshold_joins_groups_and_keeps_stories_whole(store):
    # Just under the most similar pair of articles that are not duplicates.
    nearest = dupes(store.database, "--nearest", "2").stdout.splitlines()
    apart = [float(line.split()[0]) for line in nearest if line.endswith(": not a duplicate")]
    lower = f"{max(apart) - 0.01:.2f}"
    applied = dupes(store.database, "--threshold", lower, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "joined" in applied.stdout
    # Every duplicate shares its canonical's story, and no story id points nowhere.
    assert store.rows(
        "SELECT COUNT(*) FROM articles a JOIN articles c ON c.id = a.duplicate_of "
        "WHERE a.story_id != c.story_id"
    ) == [(0,)]
    assert store.rows("PRAGMA foreign_key_check") == []
    assert store.rows("SELECT SUM(articles) FROM stories_dedup") == [(38,)]


def test_dupes_refuses_apply_without_threshold(store):
    refused = dupes(store.database, "--apply")
    assert refused.returncode == 2
    assert "--apply needs --threshold" in refused.stderr


@pytest.mark.slow
def test_a_replay_at_the_crawls_own_threshold_changes_nothing(tmp_path, store):
    """`scrapy dupes` decides with the crawl's band keys and best match: replayed at the
    threshold the crawl used, no decision moves, on the samples and on a larger corpus of
    lightly edited copies."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 120)
    edited = run_scrapy(["crawl", "files", "-a", f"path={corpus}"], tmp_path / "edited.db")
    assert edited.returncode == 0, edited.stderr[-2000:]
    [(near,)] = edited.rows("SELECT COUNT(*) FROM articles WHERE similarity < 1")
    assert near >= 10
    for result, count in ((store, 38), (edited, 120)):
        replay = dupes(result.database, "--threshold", "0.45")
        assert replay.returncode == 0, replay.stderr
        assert f"Replaying {count} stored signatures at threshold 0.45" in replay.stdout
        assert "0 decisions would change" in replay.stdout

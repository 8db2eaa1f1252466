"""Near-duplicate variants of seed articles are flagged against the right canonical."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from pipelines.signatures import SignatureParams, Signer
from pipelines.textnorm import normalize_text
from tests.conftest import SAMPLE, CrawlResult, run_scrapy


def write_variants(folder: Path) -> dict[str, str]:
    """Two copies of seeds as a feed would republish them; returns variant → its seed's name."""
    seed_000 = next(folder.glob("000_*.txt"))
    lines = seed_000.read_text("utf-8").splitlines()
    # A partner's copy: its own headline, a sentence dropped, one added, plain apostrophes.
    body = [line.replace("’", "'") for line in lines[1:]]
    body[1] = body[1].split(". ", 1)[-1]
    body.insert(3, "Le groupe n'a pas souhaité commenter ces informations auprès de notre agence.")
    republished = folder / "zz_republished_000.txt"
    republished.write_text("Anthropic change de directeur technique\n" + "\n".join(body), "utf-8")

    seed_003 = next(folder.glob("003_*.txt"))
    text = seed_003.read_text("utf-8")
    cut = int(len(text) * 0.75)
    truncated = folder / "zz_truncated_003.txt"
    truncated.write_text(text[: text.rindex(" ", 0, cut)] + "\nLire la suite\n", "utf-8")
    return {republished.name: seed_000.name, truncated.name: seed_003.name}


def decisions(result: CrawlResult) -> dict[str, tuple[str | None, float | None]]:
    """url → (url of its canonical, similarity) for every stored article."""
    rows = result.rows(
        "SELECT a.url, c.url, a.similarity FROM articles a LEFT JOIN articles c "
        "ON c.id = a.duplicate_of"
    )
    return {url: (canonical, similarity) for url, canonical, similarity in rows}


def test_variants_point_at_their_seed(seeds, crawl_files):
    expected = write_variants(seeds)
    result = crawl_files(seeds)
    assert result.returncode == 0, result.stderr[-3000:]
    found = decisions(result)
    assert len(found) == 7
    for variant, seed in expected.items():
        canonical, similarity = found[(seeds / variant).as_uri()]
        assert canonical == (seeds / seed).as_uri()
        assert similarity is not None and 0 < similarity <= 1
    assert sum(1 for canonical, _ in found.values() if canonical is None) == 5
    assert result.rows("SELECT items_new, items_near_duplicate FROM crawl_runs") == [(5, 2)]
    # A duplicate belongs to its canonical's story; articles_dedup lists canonicals only.
    assert result.rows(
        "SELECT COUNT(*) FROM articles a JOIN articles c ON c.id = a.duplicate_of "
        "WHERE a.story_id != c.story_id"
    ) == [(0,)]
    assert result.rows("SELECT SUM(duplicate_count), COUNT(*) FROM articles_dedup") == [(2, 5)]

    rerun = crawl_files(seeds)
    assert rerun.returncode == 0
    assert rerun.rows("SELECT COUNT(*) FROM articles") == [(7,)]
    assert decisions(rerun) == found


@pytest.mark.slow
def test_two_runs_decide_as_one(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    one_run = run_scrapy(["crawl", "files", "-a", f"path={corpus}"], tmp_path / "one.db")
    assert one_run.returncode == 0, one_run.stderr[-3000:]

    # Same paths, ingested in two runs: the base articles first, then the variants.
    variants = corpus / "variants"
    held_back = tmp_path / "held_back"
    variants.rename(held_back)
    first = run_scrapy(["crawl", "files", "-a", f"path={corpus}"], tmp_path / "two.db")
    assert first.returncode == 0
    bases = len(list(corpus.glob("*.txt")))
    assert first.rows("SELECT COUNT(*) FROM articles") == [(bases,)]
    held_back.rename(variants)
    second = run_scrapy(["crawl", "files", "-a", f"path={corpus}"], tmp_path / "two.db")
    assert second.returncode == 0

    assert decisions(second) == decisions(one_run)
    variant_count = len(list(variants.iterdir()))
    assert len(decisions(second)) == bases + variant_count
    assert second.rows(
        "SELECT items_new, items_exact_duplicate + items_near_duplicate, items_already_stored "
        "FROM crawl_runs WHERE id = 2"
    ) == [(0, variant_count, bases)]


@pytest.mark.slow
def test_a_store_signed_with_sha1_keeps_its_shingle_hash(tmp_path):
    """A store whose parameters predate the choice of shingle hash (no "shingle_hash") goes
    on signing with SHA-1, so its old and new signatures stay comparable."""
    database = tmp_path / "old.db"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_scrapy(["crawl", "files", "-a", f"path={empty}"], database).returncode == 0
    legacy = SignatureParams(num_perm=128, shingle_size=3)  # sha1, as stores wrote it
    with closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE news_meta SET value = ? WHERE key = 'minhash'", (legacy.as_json(),))

    result = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "14 new, 8 exact duplicates, 16 near duplicates" in result.stdout
    signer = Signer(legacy)
    canonical = result.rows("SELECT text, signature FROM articles WHERE duplicate_of IS NULL")
    assert len(canonical) == 14
    for text, signature in canonical:
        assert signature == signer.sign(normalize_text(text))
    assert result.rows("SELECT value FROM news_meta WHERE key = 'minhash'") == [(legacy.as_json(),)]
    # A new store signs with words64, and its signatures differ from SHA-1's.
    fresh = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], tmp_path / "new.db")
    [(params,)] = fresh.rows("SELECT value FROM news_meta WHERE key = 'minhash'")
    assert SignatureParams.from_json(params).shingle_hash == "words64"
    new_signatures = {text: sig for text, sig in fresh.rows("SELECT text, signature FROM articles")}
    assert all(new_signatures[text] != signature for text, signature in canonical)


def test_a_store_signed_otherwise_stops_the_run_and_keeps_its_rows(tmp_path):
    """Signatures under other parameters cannot be compared: the run stops at start with the
    reason, whether the settings differ or the store names a hash this version lacks."""
    database = tmp_path / "news.db"
    first = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    assert first.returncode == 0, first.stderr[-2000:]

    other = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database, "NEWS_MINHASH_PERM=64")
    assert other.returncode != 0
    assert "was signed with" in other.stderr and "NEWS_MINHASH_PERM" in other.stderr

    future = SignatureParams(num_perm=128, shingle_size=3, shingle_hash="words64").as_json()
    future = future.replace("words64", "words128")
    with closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE news_meta SET value = ? WHERE key = 'minhash'", (future,))
    unknown = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database)
    assert unknown.returncode != 0
    assert "unknown shingle hash" in unknown.stderr
    assert unknown.rows("SELECT COUNT(*) FROM articles") == [(38,)]

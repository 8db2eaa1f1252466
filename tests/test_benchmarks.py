"""The throughput harness runs end to end on a small site (its figures belong to the README,
not to a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


def harness(output: Path, *args: str, script: str = "throughput") -> dict[str, Any]:
    """Run benchmarks/SCRIPT.py with ARGS and return the JSON it wrote to OUTPUT."""
    run = subprocess.run(
        [sys.executable, f"benchmarks/{script}.py", *args, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results: dict[str, Any] = json.loads(output.read_text())
    return results


@pytest.mark.slow
def test_throughput_harness_measures_every_part(tmp_path):
    results = harness(tmp_path / "throughput.json", "--pages", "40")
    assert results["bare"]["extracted"] == 40
    for mode in ("news_crawl", "files_ingest"):
        crawl = results[mode]
        assert crawl["returncode"] == 0, crawl["summary"]
        assert crawl["stats"]["news/store/articles"] == 40
        assert crawl["stats"]["news/items/near"] >= 1  # the harness writes near-duplicates
        assert set(crawl["cpu_share"]) >= {"cleaning", "dedup", "stories", "storage"}
        assert crawl["ratio_to_bare"] > 0
        # Sampled from the crawl and its workers themselves, not inherited from the harness.
        assert 30 < crawl["peak_rss_mb"] < 2000 and crawl["peak_workers_rss_mb"] > 30
        assert 30 < crawl["peak_anon_rss_mb"] <= crawl["peak_rss_mb"]
    assert results["files_ingest_one_process"]["peak_workers_rss_mb"] == 0
    # The workers' CPU is counted with the crawl's: a run with workers costs more CPU per page.
    parts = results["workers_speedup_parts"]
    assert parts["cpu_per_page_vs_one_process"] > 1 and parts["cores_busy"] > 0
    assert parts["cleaning_cpu_per_page_vs_one_process"] > 0
    # The crawl process alone costs less CPU per page with workers than without them.
    assert (
        0
        < results["files_ingest"]["crawl_process_cpu_ms_per_page"]
        < results["files_ingest_one_process"]["crawl_process_cpu_ms_per_page"]
    )
    assert (
        results["index"]["indexed_articles"] == results["files_ingest"]["stats"]["news/items/new"]
    )
    # Every canonical article is in both indexes, with one row per band.
    assert results["index"]["dedup_bands_per_article"] > 1
    assert results["index"]["story_bands_per_article"] == 64
    assert results["index"]["index_disk_bytes_per_article"] > 0
    assert results["startup_filled_store_s"] > 0


@pytest.mark.slow
def test_million_and_flat_modes_run_end_to_end(tmp_path):
    results = harness(
        tmp_path / "million.json", "--million", "--stored", "2000", "--crawl-pages", "30"
    )
    crawl = results["crawl"]
    assert crawl["returncode"] == 0, crawl["summary"]
    # The synthetic articles and the crawled ones are all in the store.
    assert crawl["stats"]["news/store/articles"] == 2000 + 30
    assert 0 < crawl["dedup_share_of_article_cpu"] < 1
    parts = crawl["dedup_s_per_article_parts"]
    assert parts["fingerprint"] > 0 and parts["lookup"] > 0
    assert parts["fingerprint"] + parts["lookup"] == pytest.approx(
        crawl["cpu_s_per_article"]["dedup"]
    )
    assert results["startup_s"] > 0

    results = harness(tmp_path / "flat.json", "--flat", "200")
    assert results["returncode"] == 0 and results["stored"] == 200
    assert results["samples"]
    assert all(0 < s["crawl_anon_mb"] <= s["crawl_mb"] for s in results["samples"])


@pytest.mark.slow
def test_machinery_benchmark_measures_each_piece(tmp_path):
    results = harness(
        tmp_path / "machinery.json", "--pages", "30", "--rounds", "1", script="machinery"
    )
    crawl = results["crawl"]
    assert set(crawl["median_gc_ms_per_page"]) == {"as shipped", "without gc.freeze"}
    assert all(v > 0 for v in crawl["median_cpu_ms_per_page"].values())
    # The collector ran in both crawls, and was timed.
    assert all(v > 0 for v in crawl["median_gc_ms_per_page"].values())
    assert results["lookups"]["lookups"] == 30
    assert all(v > 0 for v in results["lookups"]["median_ms"].values())
    imports = results["worker_imports"]
    assert imports["boot line"]["cpu_s"] > 0 and imports["boot line"]["peak_mb"] > 0
    # What spawn imported is a superset of the boot line's.
    assert imports["spawn"]["peak_mb"] > imports["boot line"]["peak_mb"]
    checks = results["generator_check"]["ms_per_response"]
    assert set(checks) == {"FilesSpider.parse_file", "NewsSpider.parse"}
    assert all(v > 0 for v in checks.values())


@pytest.mark.slow
def test_document_memory_benchmark_runs_end_to_end(tmp_path):
    results = harness(tmp_path / "memory.json", "--mb", "1", script="document_memory")
    assert 0.9 < results["document_mb"] < 1.2
    for workers in (1, 2):
        measured = results[f"workers_{workers}"]
        # The large document was stored, not dropped, in both runs.
        assert (
            "1 new" in measured["large"]["summary"] and "0 dropped" in measured["large"]["summary"]
        )
        assert measured["large"]["crawl_mb"] > 30
    assert results["workers_2"]["large"]["workers_mb"] > 30
    assert results["workers_1"]["large"]["workers_mb"] == 0


@pytest.mark.slow
def test_fleet_harness_measures_both_cases(tmp_path, postgres_url, frontier):
    """benchmarks/fleet.py on 40 pages, with 1 and 2 processes. It makes its own databases
    on the tests' server and its own crawl names in Redis; the two fixtures are here for
    their checks that the servers are up (a skip, or in CI a failure)."""
    from tests.conftest import REDIS_URL, SERVER_URL

    output = tmp_path / "fleet.json"
    arguments = ("--pages", "40", "--processes", "1", "2", "--output", str(output))
    run = subprocess.run(
        [sys.executable, "benchmarks/fleet.py", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={
            **os.environ,
            "NEWSDEDUP_BENCH_POSTGRES": SERVER_URL,
            "NEWSDEDUP_BENCH_REDIS": REDIS_URL,
        },
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(output.read_text())
    assert [crawl["processes"] for crawl in results["crawl"]] == [1, 2]
    for crawl in results["crawl"]:
        assert crawl["exit_codes"] == [0] * crawl["processes"]
        assert crawl["stored"] == 40 and crawl["pages_answered"] == 40
        assert len(crawl["stored_per_process"]) == crawl["processes"]
        assert crawl["pages_per_s"] > 0
    assert results["crawl"][0]["speedup"] == 1.0
    for writers in results["writers"]:
        assert writers["exit_codes"] == [0] * writers["writers"]
        assert writers["stored"] == 40
        assert writers["held_ms_per_article"] > 0
        assert 0 <= writers["lock_share_of_wall"] < 1

"""Throughput of the whole pipeline against bare trafilatura extraction of the same pages.

    python benchmarks/throughput.py                  # 10,000 pages, results in benchmarks/results/
    python benchmarks/throughput.py --pages 2000     # a quicker run
    python benchmarks/throughput.py --million        # dedup and stories beside 1,000,000 articles
    python benchmarks/throughput.py --flat 100000    # memory over a crawl of 100,000 pages

The crawl mode writes N article pages (three site templates, 150 to 1,200 words, a share of
near-duplicate copies) and a sitemap into a temporary folder, serves them on a loopback port
(benchmarks/slow_site.py, without delay), and in one run measures:

- bare extraction: trafilatura.bare_extraction(with_metadata=True) over every page, one
  process, no Scrapy: the floor;
- `scrapy crawl news` of the sitemap into a fresh store, and `scrapy crawl files` of the
  folder into another, with the default NEWS_WORKERS (one per core) and again with one
  process: pages/s, the ratio to the floor, the speed-up from the workers, the CPU share of
  each stage (from the ``news/cpu/<stage>`` stats, worker time included), and peak memory
  (the high-water mark of the crawl process and of its workers, sampled from /proc, and the
  crawl process's largest anonymous memory, which leaves out the store's mapped pages);
- the crawl process's own CPU per page (workers excluded), which bounds pages/s on any
  number of cores;
- the dedup index's memory per stored article, and the start-up time of a crawl against
  the filled store.

The million mode adds 1,000,000 synthetic canonical articles (signatures, story terms, and
document frequencies for 3,000,000 terms) to a store and measures the start-up of a crawl
against it and the dedup and stories stages' CPU per article, each split into the part made
in the workers and the part in the crawl process.

The flat mode crawls N small generated pages (files source, default workers) and samples
the resident memory of the crawl process and of its workers every 2 s against the
articles stored, to show that memory does not grow with the crawl.
Each mode prints a summary and writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.newspages import make_pages  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
# The news crawl of a site on this machine: no politeness, as many connections as it takes.
LOCAL_SITE = (
    "AUTOTHROTTLE_ENABLED=False",
    "DOWNLOAD_DELAY=0",
    "ROBOTSTXT_OBEY=False",
    "NEWS_ALLOW_PRIVATE_ADDRESSES=True",
    "CONCURRENT_REQUESTS=32",
    "CONCURRENT_REQUESTS_PER_DOMAIN=32",
    "NEWS_PROGRESS_INTERVAL=0",
)


def write_sitemap(folder: Path, names: list[str], base: str) -> None:
    entries = "".join(f"<url><loc>{base}/{name}</loc></url>" for name in names)
    (folder / "sitemap.xml").write_text(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    )


def write_results(results: dict[str, Any], output: Path | None, name: str) -> Path:
    """RESULTS as JSON in OUTPUT, or benchmarks/results/NAME-<time>.json; returns the path."""
    path = output or RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {path}")
    return path


def local_site(folder: Path) -> tuple[subprocess.Popen[str], str]:
    """FOLDER served on a loopback port without delay (benchmarks/slow_site.py), and its base
    URL. The server binds the port itself and says which: a port found free here and bound
    later could be taken meanwhile, by another benchmark's server or any outgoing socket."""
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "slow_site.py"),
            str(folder),
            "--delay",
            "0",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, f"http://127.0.0.1:{int(server.stdout.readline())}"


def bare_extraction(folder: Path, names: list[str]) -> dict[str, float]:
    import trafilatura

    documents = [(folder / name).read_text("utf-8") for name in names]
    started, cpu = time.perf_counter(), time.process_time()
    extracted = sum(
        1 for html in documents if trafilatura.bare_extraction(html, with_metadata=True)
    )
    wall = time.perf_counter() - started
    return {
        "pages": len(names),
        "extracted": extracted,
        "seconds": wall,
        "pages_per_s": len(names) / wall,
        "cpu_seconds": time.process_time() - cpu,
    }


def measured(args: list[str], database: Path, *settings: str) -> dict[str, Any]:
    """`scrapy` with its CPU time (wait4) and its peak resident memory (sampled)."""
    command = [
        sys.executable,
        "-m",
        "scrapy",
        *args,
        "-s",
        f"NEWS_DATABASE_URL=sqlite:///{database}",
        "-s",
        "LOG_LEVEL=INFO",
    ]
    for setting in settings:
        command += ["-s", setting]
    log = database.with_suffix(".log")
    started = time.perf_counter()
    peaks = {"crawl": 0.0, "workers": 0.0, "crawl_anon": 0.0}
    done = threading.Event()
    with log.open("w") as err:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
        sampler = threading.Thread(target=watch_peaks, args=(proc.pid, peaks, done))
        sampler.start()
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
    wall = time.perf_counter() - started
    stderr = log.read_text()
    stats = {k: float(v) for k, v in re.findall(r"'(news/[^']+)': ([0-9.e+-]+)", stderr)}
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": peaks["crawl"],
        "peak_anon_rss_mb": peaks["crawl_anon"],
        "peak_workers_rss_mb": peaks["workers"],
        "stats": stats,
        "summary": stdout.strip().splitlines()[-1] if stdout.strip() else stderr[-500:],
    }


def watch_peaks(pid: int, peaks: dict[str, float], done: threading.Event) -> None:
    """Keep in PEAKS the high-water mark (VmHWM) of process PID and the sum of its children's
    (the workers), sampled until DONE. Not wait4's ru_maxrss: a child forked from this
    harness starts at the harness's own size, which stays its peak through the exec whatever
    the crawl uses. The crawl process's RssAnon (its heap, without the pages of the store it
    maps, which are the file cache) is sampled too."""
    while not done.wait(0.5):
        crawl, workers = tree_memory_mb(pid, "VmHWM")
        peaks["crawl"] = max(peaks["crawl"], crawl)
        peaks["workers"] = max(peaks["workers"], workers)
        peaks["crawl_anon"] = max(peaks["crawl_anon"], tree_memory_mb(pid, "RssAnon")[0])


def stage_shares(run: dict[str, Any]) -> dict[str, float]:
    """Each stage's share of the process's CPU; the rest is Scrapy (download, scheduling)."""
    total = run["cpu_seconds"]
    shares = {
        name.split("/")[-1]: seconds / total
        for name, seconds in run["stats"].items()
        if name.startswith("news/cpu/")
    }
    shares["scrapy_and_startup"] = max(0.0, 1 - sum(shares.values()))
    return shares


def index_bytes_per_article(database: Path) -> dict[str, float]:
    """The LSH indexes live in the store (lsh_buckets): their bytes on disk, and their rows,
    per canonical article. Nothing of them is held in memory between look-ups."""
    with sqlite3.connect(database) as conn:
        [(table_bytes,)] = conn.execute(
            "SELECT SUM(pgsize) FROM dbstat WHERE name = 'lsh_buckets'"
        ).fetchall()
        [(canonical,)] = conn.execute(
            "SELECT COUNT(*) FROM articles WHERE duplicate_of IS NULL"
        ).fetchall()
        rows = dict(conn.execute("SELECT lsh, COUNT(*) FROM lsh_buckets GROUP BY lsh").fetchall())
        [(terms_bytes,)] = conn.execute(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = 'term_counts'"
        ).fetchall()
        [(vector_bytes, centroid_bytes)] = conn.execute(
            "SELECT (SELECT AVG(LENGTH(story_terms)) FROM articles WHERE story_terms IS NOT NULL "
            "AND url NOT LIKE 'synthetic:%'), (SELECT AVG(LENGTH(centroid)) FROM stories "
            "WHERE centroid IS NOT NULL)"
        ).fetchall()
    return {
        "index_disk_bytes_per_article": table_bytes / max(canonical, 1),
        "dedup_bands_per_article": rows.get(1, 0) / max(canonical, 1),
        "story_bands_per_article": rows.get(2, 0) / max(canonical, 1),
        # Story decisions' data beside the index: a crawled article's term vector, a story's
        # centroid, and the document-frequency table per article.
        "story_terms_bytes_per_article": vector_bytes or 0.0,
        "centroid_bytes_per_story": centroid_bytes or 0.0,
        "term_counts_disk_bytes_per_article": terms_bytes / max(canonical, 1),
        "indexed_articles": canonical,
    }


def crawl_mode(pages: int, near_share: float) -> dict[str, Any]:
    results: dict[str, Any] = {"pages": pages, "near_share": near_share}
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        names = make_pages(site, pages, near_share)
        server, base = local_site(site)
        write_sitemap(site, names, base)
        try:
            print(f"bare extraction of {pages} pages …", flush=True)
            results["bare"] = bare_extraction(site, names)
            fast = LOCAL_SITE
            print("scrapy crawl news …", flush=True)
            web = measured(
                ["crawl", "news", "-a", f"sitemap={base}/sitemap.xml"], Path(tmp) / "web.db", *fast
            )
            print("scrapy crawl files …", flush=True)
            files = measured(["crawl", "files", "-a", f"path={site}"], Path(tmp) / "files.db")
            print("scrapy crawl files, NEWS_WORKERS=1 …", flush=True)
            single = measured(
                ["crawl", "files", "-a", f"path={site}"], Path(tmp) / "single.db", "NEWS_WORKERS=1"
            )
            for name, run in (
                ("news_crawl", web),
                ("files_ingest", files),
                ("files_ingest_one_process", single),
            ):
                run["pages_per_s"] = pages / run["seconds"]
                run["ratio_to_bare"] = run["pages_per_s"] / results["bare"]["pages_per_s"]
                run["cpu_share"] = stage_shares(run)
                # Every page passes through the crawl process: its CPU per page (start-up
                # included) is the ceiling on pages/s, whatever the number of workers.
                process_cpu = run["stats"].get("news/crawl_process_cpu", 0.0)
                run["crawl_process_cpu_ms_per_page"] = process_cpu / pages * 1000
                run["crawl_process_ceiling_pages_per_s"] = (
                    pages / process_cpu if process_cpu else None
                )
                run["cpu_ms_per_page"] = run["cpu_seconds"] / pages * 1000
                run["cleaning_cpu_ms_per_page"] = run["stats"]["news/cpu/cleaning"] / pages * 1000
                # How busy the machine's cores were, on average, over the whole run.
                run["cores_busy"] = run["cpu_seconds"] / run["seconds"]
                results[name] = run
            results["workers_speedup"] = files["pages_per_s"] / single["pages_per_s"]
            # The speed-up is the cores kept busy over the CPU each page costs with workers
            # rather than in one process. Extraction itself slows when both cores work, so
            # the last ratio shows what the machine, not the pipeline, takes off the ideal.
            results["workers_speedup_parts"] = {
                "cores_busy": files["cores_busy"],
                "cpu_per_page_vs_one_process": files["cpu_ms_per_page"] / single["cpu_ms_per_page"],
                "cleaning_cpu_per_page_vs_one_process": (
                    files["cleaning_cpu_ms_per_page"] / single["cleaning_cpu_ms_per_page"]
                ),
            }
            results["index"] = index_bytes_per_article(Path(tmp) / "files.db")
            empty = Path(tmp) / "empty"
            empty.mkdir()
            print("start-up against the filled store …", flush=True)
            results["startup_empty_store_s"] = measured(
                ["crawl", "files", "-a", f"path={empty}"], Path(tmp) / "new.db"
            )["seconds"]
            results["startup_filled_store_s"] = measured(
                ["crawl", "files", "-a", f"path={empty}"], Path(tmp) / "files.db"
            )["seconds"]
        finally:
            server.kill()
            server.wait()
    return results


def load_synthetic(database: Path, count: int) -> float:
    """Fill DATABASE (made by a crawl, so at the current schema) with COUNT synthetic
    canonical articles, their story terms, the terms' document frequencies and their bucket
    rows; returns the seconds it took. Random signatures have random band keys, so the
    bucket rows are drawn at random too, as many per article as the two band layouts have
    bands."""
    import numpy as np

    from pipelines.lsh import lsh_layout
    from pipelines.stories import ROWS_PER_BAND

    dedup_bands = lsh_layout(0.45, 128)[0]  # the defaults
    story_bands = 128 // ROWS_PER_BAND
    rng = np.random.default_rng(5)
    started = time.perf_counter()
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("INSERT INTO stories (id, created_at) VALUES (1, '2026-10-01 00:00:00')")
        for offset in range(0, count, 50_000):
            chunk = min(50_000, count - offset)
            signatures = rng.integers(0, 2**32, size=(chunk, 128), dtype=np.uint32)
            stories = rng.integers(0, 2**32, size=(chunk, 128), dtype=np.uint32)
            # Story terms: 48 (key, weight) pairs, as pipelines/storyvectors.py packs them.
            vectors = rng.integers(1, 2**32, size=(chunk, 96), dtype=np.uint32)
            conn.executemany(
                "INSERT INTO articles (id, url, text, fetched_at, content_hash, signature, "
                "story_id, story_signature, story_terms) "
                "VALUES (?, ?, '', '2026-10-01 00:00:00', ?, ?, 1, ?, ?)",
                (
                    (
                        offset + i + 2,
                        f"synthetic:{offset + i}",
                        f"{offset + i:032x}",
                        signatures[i].tobytes(),
                        stories[i].tobytes(),
                        vectors[i].tobytes(),
                    )
                    for i in range(chunk)
                ),
            )
        # Document frequencies as news vocabularies have them: a few million terms, most
        # seen once, some in a large share of the store (a Zipf law).
        terms = count * 3
        frequencies = np.minimum(rng.zipf(1.6, size=terms), count)
        conn.executemany(
            "INSERT OR IGNORE INTO term_counts (term, articles) VALUES (?, ?)",
            zip(
                rng.integers(1, 2**32, size=terms).tolist(),
                frequencies.tolist(),
                strict=True,
            ),
        )
        conn.execute("INSERT OR REPLACE INTO term_counts (term, articles) VALUES (0, ?)", (count,))
        ids = np.arange(2, count + 2, dtype=np.int64)
        step = 1_000_000
        for lsh, bands in ((1, dedup_bands), (2, story_bands)):
            # Written in primary-key order, so that SQLite appends to the table's B-tree
            # instead of splitting pages all over it (minutes instead of most of an hour).
            keys = rng.integers(-(2**31), 2**31, size=count * bands, dtype=np.int64)
            members = np.repeat(ids, bands)
            order = np.lexsort((members, keys))
            keys, members = keys[order], members[order]
            for start in range(0, len(keys), step):
                conn.executemany(
                    "INSERT OR IGNORE INTO lsh_buckets (lsh, band_key, article_id)"
                    " VALUES (?, ?, ?)",
                    zip(
                        [lsh] * len(keys[start : start + step]),
                        keys[start : start + step].tolist(),
                        members[start : start + step].tolist(),
                        strict=True,
                    ),
                )
            del keys, members, order
    return time.perf_counter() - started


def million_mode(count: int, pages: int = 2000) -> dict[str, Any]:
    """A store with COUNT synthetic canonical articles, indexed, then a crawl of PAGES pages
    against it."""
    results: dict[str, Any] = {"stored": count}
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "big.db"
        warm = Path(tmp) / "warm"
        warm.mkdir()
        # Schema, store parameters and one run: a real crawl of nothing.
        measured(["crawl", "files", "-a", f"path={warm}"], database)
        print(f"loading {count} synthetic signatures …", flush=True)
        results["load_seconds"] = load_synthetic(database, count)
        empty = Path(tmp) / "empty"
        empty.mkdir()
        print("start-up against the big store …", flush=True)
        startup = measured(["crawl", "files", "-a", f"path={empty}"], database)
        results["startup_s"] = startup["seconds"]
        site = Path(tmp) / "site"
        make_pages(site, pages, 0.1)
        print(f"{pages} pages against the big store …", flush=True)
        run = measured(["crawl", "files", "-a", f"path={site}"], database)
        run["cpu_share"] = stage_shares(run)
        per_article = {
            name.split("/")[-1]: seconds / pages
            for name, seconds in run["stats"].items()
            if name.startswith("news/cpu/")
        }
        run["cpu_s_per_article"] = per_article
        # The article's CPU: the crawl's, less what an empty crawl of the store costs.
        article_cpu = (run["cpu_seconds"] - startup["cpu_seconds"]) / pages
        run["article_cpu_s"] = article_cpu
        run["dedup_share_of_article_cpu"] = per_article.get("dedup", 0.0) / article_cpu
        # Dedup's two halves: the fingerprint, made in the workers beside the extraction, and
        # the look-up in the store, in the crawl process; only the second grows with the store.
        fingerprint = run["stats"].get("news/derived_cpu/dedup", 0.0) / pages
        run["dedup_s_per_article_parts"] = {
            "fingerprint": fingerprint,
            "lookup": per_article.get("dedup", 0.0) - fingerprint,
        }
        # The same for stories: terms and signature in the workers, the decision (look-up,
        # centroids, document frequencies, cosine) in the crawl process.
        terms = run["stats"].get("news/derived_cpu/stories", 0.0) / pages
        decision = per_article.get("stories", 0.0) - terms
        run["stories_s_per_article_parts"] = {"terms": terms, "decision": decision}
        run["stories_share_of_article_cpu"] = per_article.get("stories", 0.0) / article_cpu
        run["stories_decision_share_of_article_cpu"] = decision / article_cpu
        results["crawl"] = run
        results["index"] = index_bytes_per_article(database)
    return results


def tree_memory_mb(pid: int, field: str = "VmRSS") -> tuple[float, float]:
    """A memory field of /proc/PID/status (VmRSS, VmHWM, RssAnon) for a process, and summed over its
    children (the workers), in MB; 0 for a process that is gone."""

    def read(of: int) -> float:
        try:
            for line in Path(f"/proc/{of}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return read(pid), sum(read(int(child)) for child in children)


def flat_mode(count: int) -> dict[str, Any]:
    """`scrapy crawl files` of COUNT small article pages into a fresh store, sampling the
    resident memory of the crawl process and of its workers against the articles stored."""
    results: dict[str, Any] = {"pages": count}
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        print(f"writing {count} pages …", flush=True)
        make_pages(site, count, 0.1, small=True)
        database = Path(tmp) / "flat.db"
        command = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "files",
            "-a",
            f"path={site}",
            "-s",
            f"NEWS_DATABASE_URL=sqlite:///{database}",
            "-s",
            "LOG_LEVEL=INFO",
        ]
        print(f"scrapy crawl files of {count} pages, sampling memory …", flush=True)
        samples: list[dict[str, float]] = []
        started = time.perf_counter()
        with (Path(tmp) / "flat.log").open("w") as err:
            proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
            while proc.poll() is None:
                time.sleep(2)
                main_mb, workers_mb = tree_memory_mb(proc.pid)
                anon_mb, _ = tree_memory_mb(proc.pid, "RssAnon")
                try:
                    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
                        [(stored,)] = conn.execute("SELECT COUNT(*) FROM articles").fetchall()
                except sqlite3.Error:
                    stored = 0
                if main_mb:
                    samples.append(
                        {
                            "seconds": time.perf_counter() - started,
                            "stored": stored,
                            "crawl_mb": main_mb,
                            "crawl_anon_mb": anon_mb,
                            "workers_mb": workers_mb,
                        }
                    )
        results["returncode"] = proc.returncode
        results["seconds"] = time.perf_counter() - started
        with sqlite3.connect(database) as conn:
            [(results["stored"],)] = conn.execute("SELECT COUNT(*) FROM articles").fetchall()
        results["samples"] = samples
        if not samples:
            return results

        def at(share: float) -> dict[str, float]:
            wanted = share * count
            return min(samples, key=lambda sample: abs(sample["stored"] - wanted))

        marks = {f"{int(share * 100)}%": at(share) for share in (0.1, 0.25, 0.5, 0.75, 1.0)}
        results["at"] = marks
        first, last = marks["10%"], marks["100%"]
        stored = max(last["stored"] - first["stored"], 1)
        for key in ("crawl_mb", "crawl_anon_mb", "workers_mb"):
            results[f"{key}_growth_10_to_100"] = last[key] - first[key]
            results[f"{key}_growth_per_10k_articles"] = (last[key] - first[key]) / stored * 10_000
        results["peak_crawl_mb"] = max(sample["crawl_mb"] for sample in samples)
        results["peak_workers_mb"] = max(sample["workers_mb"] for sample in samples)
    return results


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "system": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--near-share", type=float, default=0.1)
    parser.add_argument("--million", action="store_true", help="the 1,000,000-article mode")
    parser.add_argument("--flat", type=int, metavar="N", help="memory over a crawl of N pages")
    parser.add_argument("--stored", type=int, default=1_000_000, help="articles for --million")
    parser.add_argument("--crawl-pages", type=int, default=2000, help="pages crawled by --million")
    parser.add_argument("--output", type=Path, help="JSON file (default: benchmarks/results/)")
    args = parser.parse_args()
    if args.flat:
        results = {"mode": "flat", "machine": machine(), **flat_mode(args.flat)}
        output = args.output or RESULTS / "flat.json"
    elif args.million:
        results = {
            "mode": "million",
            "machine": machine(),
            **million_mode(args.stored, args.crawl_pages),
        }
        output = args.output or RESULTS / "million.json"
    else:
        results = {"mode": "crawl", "machine": machine(), **crawl_mode(args.pages, args.near_share)}
        output = args.output or RESULTS / "throughput.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {output}")


if __name__ == "__main__":
    main()

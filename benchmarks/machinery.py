"""What each piece of the project's custom machinery buys today, measured against the plain
way of doing the same thing, in one run:

    python benchmarks/machinery.py                 # 600 pages, 3 rounds: about 5 minutes
    python benchmarks/machinery.py --pages 2000 --rounds 3

- ``gc.freeze`` at engine start (crawler.extensions.FrozenStartupHeap): real `scrapy crawl
  files` ingests of the same generated pages, with the default workers, with and without
  it, in turn in each round. The figure is the time the crawl process spends in the garbage
  collector per page, timed by gc.callbacks (the GcTimer extension below, which the
  benchmark adds to both), beside the crawl process's own CPU per page (stat
  ``news/crawl_process_cpu``), which is noisier.
- Scrapy's generator-return check, switched off (WARN_ON_GENERATOR_RETURN_VALUE = False):
  what Scrapy's check costs for each response, timed on the spiders' own callbacks as
  Scrapy calls it, with the setting on.
- The driver-cursor statements (db.base.StoreBase._fetch): dedup's look-up for every stored
  article of the baseline store, on the driver's cursor and through SQLAlchemy's
  ``Connection.execute``, with the CPU caches emptied before each call as a crawl's other
  work between two articles empties them.
- The workers' boot line (pipelines.workerpool): the CPU and memory of what a worker started
  by it imports, against what a worker started by multiprocessing's spawn imported (the
  ``scrapy`` script again, then the stage modules of the function it runs).

The machine is shared and noisy: compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.newspages import make_pages  # noqa: E402
from benchmarks.throughput import machine, measured, write_results  # noqa: E402

# A worker started by the pool's boot line imports these ...
BOOT_IMPORTS = "import pipelines.workerpool; from pipelines.cleaner import start_worker"
# ... one started by multiprocessing's spawn ran the crawl's main script (Scrapy's command
# line) again, then imported the module of the function it runs and what that imports.
SPAWN_IMPORTS = (
    "import scrapy.cmdline; import pipelines.cleaning, pipelines.dedup, pipelines.stories"
)


class GcTimer:
    """A benchmark-only extension: the crawl process's time in the garbage collector and its
    full collections, in the stats (``news/bench/gc_seconds``, ``news/bench/gc_full``)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self.started = 0.0
        self.seconds = 0.0
        self.full = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> GcTimer:
        from scrapy import signals

        timer = cls(crawler.stats)
        gc.callbacks.append(timer.on_gc)
        crawler.signals.connect(timer.spider_closed, signal=signals.spider_closed)
        return timer

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self.started
            self.full += info["generation"] == 2

    def spider_closed(self, spider: Any, reason: str) -> None:
        gc.callbacks.remove(self.on_gc)
        self.stats.set_value("news/bench/gc_seconds", self.seconds)
        self.stats.set_value("news/bench/gc_full", self.full)


def crawl_variants() -> dict[str, tuple[str, ...]]:
    """Each variant's extra settings: the project as shipped, and without gc.freeze; both
    with the GcTimer."""
    from crawler import settings

    timer = {"benchmarks.machinery.GcTimer": 0}
    without_freeze = {
        path: order
        for path, order in settings.EXTENSIONS.items()
        if not path.endswith("FrozenStartupHeap")
    }
    return {
        "as shipped": (f"EXTENSIONS={json.dumps({**settings.EXTENSIONS, **timer})}",),
        "without gc.freeze": (f"EXTENSIONS={json.dumps({**without_freeze, **timer})}",),
    }


def crawl_costs(folder: Path, work: Path, pages: int, rounds: int) -> dict[str, Any]:
    variants = crawl_variants()
    per_page: dict[str, list[float]] = {name: [] for name in variants}
    gc_per_page: dict[str, list[float]] = {name: [] for name in variants}
    baseline_store = None
    for round_ in range(rounds):
        for index, (name, settings) in enumerate(variants.items()):
            database = work / f"crawl-{round_}-{index}.db"
            run = measured(["crawl", "files", "-a", f"path={folder}"], database, *settings)
            if run["returncode"] != 0:
                raise SystemExit(f"{name}: the crawl failed: {run['summary']}")
            per_page[name].append(run["stats"]["news/crawl_process_cpu"] / pages * 1000)
            gc_per_page[name].append(run["stats"]["news/bench/gc_seconds"] / pages * 1000)
            baseline_store = baseline_store or database
            print(
                f"  round {round_ + 1}, {name}: {per_page[name][-1]:.2f} ms of CPU a page, "
                f"{gc_per_page[name][-1]:.3f} ms in the collector "
                f"({run['stats']['news/bench/gc_full']:.0f} full collections)",
                flush=True,
            )
    return {
        "store": str(baseline_store),
        "cpu_ms_per_page": per_page,
        "gc_ms_per_page": gc_per_page,
        "median_cpu_ms_per_page": {n: statistics.median(v) for n, v in per_page.items()},
        "median_gc_ms_per_page": {n: statistics.median(v) for n, v in gc_per_page.items()},
    }


def generator_check_cost(repeats: int = 300) -> dict[str, Any]:
    """What Scrapy's generator-return check costs per response, with the setting on: timed
    on each spider callback, bound to a spider instance, as the scraper calls it."""
    from scrapy.settings import Settings
    from scrapy.utils.misc import warn_on_generator_with_return_value

    from crawler.spiders.files import FilesSpider
    from crawler.spiders.news import NewsSpider

    costs: dict[str, float] = {}
    for spider_class, names in ((FilesSpider, ["parse_file"]), (NewsSpider, ["parse"])):
        spider = spider_class()
        spider.settings = Settings({"WARN_ON_GENERATOR_RETURN_VALUE": True})
        for name in names:
            started = time.perf_counter()
            for _ in range(repeats):
                # Each request carries a bound method of its own, as `callback=self.parse`
                # makes one per request: Scrapy's cache of the answer, keyed on it, misses.
                warn_on_generator_with_return_value(spider, getattr(spider, name))
            costs[f"{spider_class.__name__}.{name}"] = (
                (time.perf_counter() - started) / repeats * 1000
            )
    return {"ms_per_response": costs}


def lookup_costs(database: Path) -> dict[str, Any]:
    """Dedup's look-up of every stored article, on the cursor and through execute."""
    import numpy as np

    from db.lookups import _dedup_lookup, _key_params
    from db.store import Store
    from pipelines.lsh import lsh_layout
    from pipelines.signatures import band_keys

    store = Store(f"sqlite:///{database}", writer=False)
    store.open()
    layout = lsh_layout(0.45, 128)
    rows = store.conn.exec_driver_sql(
        "SELECT url, content_hash, signature FROM articles WHERE signature != x''"
    ).all()
    probes = [(url, digest, band_keys(signature, layout)) for url, digest, signature in rows]
    # More than a processor's last-level cache: walked before each call, as a crawl's work
    # between two articles would.
    thrash = np.ones(96 * 1024 * 1024 // 8)
    times: dict[str, list[float]] = {"driver cursor": [], "Connection.execute": []}
    for url, digest, keys in probes:
        params = {"url": url, "hash": digest, **_key_params(keys)}
        for path in times:
            thrash.sum()
            started = time.perf_counter()
            if path == "driver cursor":
                store.dedup_candidates(url, digest, keys)
            else:
                store.conn.execute(_dedup_lookup(len(keys)), params).all()
            times[path].append((time.perf_counter() - started) * 1000)
    store.close()
    medians = {path: statistics.median(values) for path, values in times.items()}
    return {
        "lookups": len(probes),
        "median_ms": medians,
        "saved_ms": medians["Connection.execute"] - medians["driver cursor"],
    }


def import_costs(repeats: int = 3) -> dict[str, Any]:
    """CPU seconds and peak memory of each kind of worker's imports, in a fresh process. The
    peak is the process's own VmHWM, read by itself: wait4's ru_maxrss would report this
    harness's size, which a forked child keeps as its peak through the exec."""
    results: dict[str, Any] = {}
    report_peak = "; print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    for name, code in (("boot line", BOOT_IMPORTS), ("spawn", SPAWN_IMPORTS)):
        cpu, rss = [], []
        for _ in range(repeats):
            proc = subprocess.Popen(
                [sys.executable, "-c", code + report_peak],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None
            peak_kb = proc.stdout.read()
            _pid, status, usage = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{name}: the imports failed")
            cpu.append(usage.ru_utime + usage.ru_stime)
            rss.append(int(peak_kb) / 1024)
        results[name] = {"cpu_s": statistics.median(cpu), "peak_mb": statistics.median(rss)}
    results["saved_per_worker"] = {
        "cpu_s": results["spawn"]["cpu_s"] - results["boot line"]["cpu_s"],
        "peak_mb": results["spawn"]["peak_mb"] - results["boot line"]["peak_mb"],
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, help="JSON file (default: benchmarks/results/)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsdedup-machinery-") as tmp:
        work = Path(tmp)
        folder = work / "pages"
        make_pages(folder, args.pages, near_share=0.1)
        print(f"Crawl process CPU per page, {args.pages} pages, {args.rounds} rounds:")
        crawl = crawl_costs(folder, work, args.pages, args.rounds)
        print("Dedup look-ups against the store of the first crawl:")
        lookups = lookup_costs(Path(crawl["store"]))
        imports = import_costs()
        generator = generator_check_cost()
    results = {
        "machine": machine(),
        "pages": args.pages,
        "crawl": crawl,
        "lookups": lookups,
        "worker_imports": imports,
        "generator_check": generator,
    }
    print()
    cpu, spent = crawl["median_cpu_ms_per_page"], crawl["median_gc_ms_per_page"]
    print(
        f"in the garbage collector: {spent['as shipped']:.3f} ms a page with gc.freeze, "
        f"{spent['without gc.freeze']:.3f} ms without (the crawl process's CPU: "
        f"{cpu['as shipped']:.2f} and {cpu['without gc.freeze']:.2f} ms a page)"
    )
    for name, cost in generator["ms_per_response"].items():
        print(f"Scrapy's generator check on {name}: {cost:.3f} ms a response")
    cursor = lookups["median_ms"]["driver cursor"]
    execute = lookups["median_ms"]["Connection.execute"]
    print(
        f"dedup look-up, median of {lookups['lookups']}: {cursor:.3f} ms on the driver's cursor, "
        f"{execute:.3f} ms through Connection.execute ({execute / cursor:.2f}x)"
    )
    boot, spawn = imports["boot line"], imports["spawn"]
    print(
        f"a worker's imports: {boot['cpu_s']:.2f} s of CPU and {boot['peak_mb']:.0f} MB with the "
        f"boot line, {spawn['cpu_s']:.2f} s and {spawn['peak_mb']:.0f} MB as spawn started it"
    )
    write_results(results, args.output, "machinery")


if __name__ == "__main__":
    main()

"""A fleet's scaling: N `scrapy crawl news` processes sharing one Redis frontier and one
PostgreSQL store.

    python benchmarks/fleet.py                       # 1, 2 and 4 processes, 1,200 pages
    python benchmarks/fleet.py --pages 600 --processes 1 2

Two cases, each run in turn in one invocation, so that their ratios compare like with like
on a noisy machine:

- **crawl**: a generated site of light article pages (benchmarks/newspages.py's generator,
  small pages) behind benchmarks/slow_site.py, whose every answer takes 200-500 ms. Each
  process keeps 8 requests in flight and cleans in its own process (NEWS_WORKERS=1), so a
  crawl waits on the network, not on the two cores. Printed per N: pages/s over the
  crawl's steady part (first to last article answered, from the site's log), wall time
  with start-up and the idle wait, and the speed-up against one process.
- **writers**: N `scrapy crawl files` processes, each over its own folder of the same
  pages, into one PostgreSQL store at once: articles/s the store took, the share of the
  writers' time spent waiting for the store's decision lock (``waiting``, from the stat
  ``news/store/decision_lock_seconds``), how much of the run the lock was held (``lock
  busy``, from ``news/store/decision_held_seconds``: near 1, the lock bounds the writers),
  and the milliseconds it was held per article.

Needs PostgreSQL (NEWSDEDUP_BENCH_POSTGRES, default postgresql+psycopg://postgres@127.0.0.1:5432/test:
a database is made per run and dropped) and Redis (NEWSDEDUP_BENCH_REDIS, default
redis://127.0.0.1:6379/0). Results go to benchmarks/results/fleet-<time>.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

from newspages import make_pages  # noqa: E402
from throughput import machine, write_results  # noqa: E402

SERVER = os.environ.get(
    "NEWSDEDUP_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS = os.environ.get("NEWSDEDUP_BENCH_REDIS", "redis://127.0.0.1:6379/0")
CRAWL = (
    "AUTOTHROTTLE_ENABLED=False",
    "DOWNLOAD_DELAY=0",
    "ROBOTSTXT_OBEY=False",
    "NEWS_ALLOW_PRIVATE_ADDRESSES=True",
    "CONCURRENT_REQUESTS=4",
    "CONCURRENT_REQUESTS_PER_DOMAIN=4",
    "NEWS_WORKERS=1",
    "NEWS_PROGRESS_INTERVAL=0",
    "NEWS_FRONTIER_IDLE=3",
    "LOG_LEVEL=INFO",
)


@contextmanager
def database() -> Iterator[str]:
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    name = f"newsdedup_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def scrapy(
    args: list[str], store: str, settings: tuple[str, ...], log: Path
) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "scrapy", *args, "-s", f"NEWS_DATABASE_URL={store}"]
    for setting in settings:
        command += ["-s", setting]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True
    )


def stats_of(log: Path) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"'(news/[^']+)': ([0-9.e+-]+)", log.read_text())}


def show_failures(codes: list[int], logs: list[Path]) -> None:
    """The errors of a process that failed: a benchmark of a broken fleet measures nothing."""
    for code, log in zip(codes, logs, strict=True):
        if code != 0:
            errors = [line for line in log.read_text().splitlines() if "ERROR" in line]
            print(f"{log.name} exited {code}:", *errors[-10:], sep="\n  ")


def crawl_case(site: Path, pages: int, processes: int, work: Path) -> dict[str, Any]:
    log = work / f"site-{processes}.log"
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "slow_site.py"), str(site), "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    names = sorted(p.name for p in site.glob("p*.html"))
    entries = "".join(f"<url><loc>http://127.0.0.1:{port}/{name}</loc></url>" for name in names)
    (site / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{entries}</urlset>"
    )
    name = f"bench-{uuid.uuid4().hex[:8]}"
    settings = (*CRAWL, f"NEWS_FRONTIER_URL={REDIS}", f"NEWS_FRONTIER_NAME={name}")
    try:
        with database() as store:
            started = time.perf_counter()
            procs = [
                scrapy(
                    ["crawl", "news", "-a", f"sitemap=http://127.0.0.1:{port}/sitemap.xml"],
                    store,
                    settings,
                    work / f"crawl-{processes}-{n}.log",
                )
                for n in range(processes)
            ]
            codes = [proc.wait() for proc in procs]
            wall = time.perf_counter() - started
            show_failures(codes, [work / f"crawl-{processes}-{n}.log" for n in range(processes)])
            engine = create_engine(store)
            with engine.connect() as conn:
                stored = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
                per_process = [
                    row[0]
                    for row in conn.execute(
                        text(
                            "SELECT items_new + items_exact_duplicate + items_near_duplicate "
                            "FROM crawl_runs ORDER BY id"
                        )
                    )
                ]
            engine.dispose()
    finally:
        server.kill()
        server.wait()
    answered = [
        float(line.split(" ", 1)[0])
        for line in log.read_text().splitlines()
        if re.match(r"\S+ /p\d+\.html ", line)
    ]
    steady = max(answered) - min(answered) if len(answered) > 1 else float("nan")
    return {
        "processes": processes,
        "exit_codes": codes,
        "pages": pages,
        "stored": stored,
        "stored_per_process": per_process,
        "pages_answered": len(answered),
        "steady_seconds": steady,
        "pages_per_s": len(answered) / steady,
        "wall_seconds": wall,
        "pages_per_s_wall": stored / wall,
    }


def writers_case(site: Path, writers: int, work: Path) -> dict[str, Any]:
    names = sorted(p.name for p in site.glob("p*.html"))
    folders = []
    for n in range(writers):
        folder = work / f"writers-{writers}" / f"part-{n}"
        folder.mkdir(parents=True)
        for name in names[n::writers]:
            os.link(site / name, folder / name)
        folders.append(folder)
    with database() as store:
        # The schema first, so that every writer starts on an equal footing.
        subprocess.run(
            [sys.executable, "-m", "scrapy", "migrate", "-s", f"NEWS_DATABASE_URL={store}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        logs = [work / f"writers-{writers}-{n}.log" for n in range(writers)]
        started = time.perf_counter()
        procs = [
            scrapy(
                ["crawl", "files", "-a", f"path={folder}"],
                store,
                ("NEWS_WORKERS=1", "LOG_LEVEL=INFO"),
                log,
            )
            for folder, log in zip(folders, logs, strict=True)
        ]
        codes = [proc.wait() for proc in procs]
        wall = time.perf_counter() - started
        show_failures(codes, logs)
        engine = create_engine(store)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
        engine.dispose()
    waits = [stats_of(log).get("news/store/decision_lock_seconds", 0.0) for log in logs]
    held = [stats_of(log).get("news/store/decision_held_seconds", 0.0) for log in logs]
    return {
        "writers": writers,
        "exit_codes": codes,
        "stored": stored,
        "wall_seconds": wall,
        "articles_per_s": stored / wall,
        "decision_lock_seconds": waits,
        "lock_share_of_wall": sum(waits) / (wall * writers),
        "decision_held_seconds": held,
        # How busy the store's decision lock was: near 1, it is what bounds the writers.
        "lock_busy_share": sum(held) / wall,
        "held_ms_per_article": 1000 * sum(held) / stored if stored else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1200)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "pages": args.pages}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        site = work / "site"
        make_pages(site, args.pages, 0.1, small=True)
        crawls = []
        for processes in args.processes:
            print(f"crawl with {processes} process(es) …", flush=True)
            crawls.append(crawl_case(site, args.pages, processes, work))
        writers = []
        for count in args.processes:
            print(f"{count} writer(s) into one store …", flush=True)
            writers.append(writers_case(site, count, work))
    base = crawls[0]["pages_per_s"] / crawls[0]["processes"]
    for run in crawls:
        run["speedup"] = run["pages_per_s"] / crawls[0]["pages_per_s"]
        run["efficiency"] = run["pages_per_s"] / (base * run["processes"])
    results["crawl"] = crawls
    results["writers"] = writers
    print("\nprocesses  pages/s  speed-up  efficiency  stored  wall s  exit codes")
    for run in crawls:
        print(
            f"{run['processes']:>9}  {run['pages_per_s']:7.1f}  {run['speedup']:8.2f}  "
            f"{run['efficiency']:10.2f}  {run['stored']:>6}  {run['wall_seconds']:6.1f}  "
            f"{run['exit_codes']}"
        )
    print("\nwriters  articles/s  waiting  lock busy  held ms/article  stored  exit codes")
    for run in writers:
        print(
            f"{run['writers']:>7}  {run['articles_per_s']:10.1f}  "
            f"{run['lock_share_of_wall']:7.3f}  {run['lock_busy_share']:9.3f}  "
            f"{run['held_ms_per_article']:15.1f}  {run['stored']:>6}  {run['exit_codes']}"
        )
    write_results(results, args.output, "fleet")


if __name__ == "__main__":
    main()

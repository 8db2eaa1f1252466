"""What one large document costs in memory, against a small one, through a real crawl:

    python benchmarks/document_memory.py               # one 9.5 MB .txt of words
    python benchmarks/document_memory.py --mb 5

Each run is `scrapy crawl files` over a folder holding one document, into a fresh store,
with the cleaning in the crawl process (NEWS_WORKERS=1) and with two workers. Peak memory
is the high-water mark of the crawl process and of its workers, sampled from /proc
(benchmarks/throughput.measured). The figure is the extra peak memory per MB of document:
what a document costs beyond the crawl's own start-up.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.newspages import vocabulary  # noqa: E402
from benchmarks.throughput import machine, measured, write_results  # noqa: E402


def write_document(path: Path, size_mb: float, seed: int = 5) -> int:
    """A plain-text article of SIZE_MB megabytes: a title, then lines of words."""
    rng = random.Random(seed)
    words = vocabulary()
    target = int(size_mb * 1024 * 1024)
    with path.open("w", encoding="utf-8") as out:
        out.write("A very long report on the council's budget\n")
        written = 0
        while written < target:
            line = " ".join(rng.choice(words) for _ in range(rng.randint(40, 120))) + ".\n"
            out.write(line)
            written += len(line)
    return path.stat().st_size


def peak(folder: Path, work: Path, name: str, workers: int) -> dict[str, Any]:
    run = measured(
        ["crawl", "files", "-a", f"path={folder}"], work / f"{name}.db", f"NEWS_WORKERS={workers}"
    )
    if run["returncode"] != 0:
        raise SystemExit(f"{name}: the crawl failed: {run['summary']}")
    return {
        "crawl_mb": run["peak_rss_mb"],
        "workers_mb": run["peak_workers_rss_mb"],
        "total_mb": run["peak_rss_mb"] + run["peak_workers_rss_mb"],
        "summary": run["summary"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=9.5, help="under NEWS_FILES_MAX_BYTES")
    parser.add_argument("--output", type=Path, help="JSON file (default: benchmarks/results/)")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="newsdedup-docmem-") as tmp:
        work = Path(tmp)
        small, large = work / "small", work / "large"
        small.mkdir()
        large.mkdir()
        write_document(small / "small.txt", 0.01)
        size = write_document(large / "large.txt", args.mb)
        results["document_mb"] = size / 1024 / 1024
        for workers in (1, 2):
            base = peak(small, work, f"small-{workers}", workers)
            big = peak(large, work, f"large-{workers}", workers)
            extra = big["total_mb"] - base["total_mb"]
            results[f"workers_{workers}"] = {
                "small": base,
                "large": big,
                "extra_mb": extra,
                "extra_mb_per_document_mb": extra / results["document_mb"],
            }
            print(
                f"NEWS_WORKERS={workers}: peak {base['total_mb']:.0f} MB with a small document, "
                f"{big['total_mb']:.0f} MB with {results['document_mb']:.1f} MB of text: "
                f"{extra / results['document_mb']:.1f} MB per MB of document",
                flush=True,
            )
    write_results(results, args.output, "document-memory")


if __name__ == "__main__":
    main()

"""Precision, recall and F1 of duplicate detection on the labelled set, through real crawls.

    python benchmarks/dedup_quality.py                 # the current settings
    python benchmarks/dedup_quality.py --sweep         # the grid that chose them
    python benchmarks/dedup_quality.py --margins       # exact Jaccard of the closest pairs

Each configuration is a real `scrapy crawl files` of samples/news into a fresh store; a pair
of documents counts as predicted duplicates when they end in the same group (the same
canonical article), and as true duplicates when labels.json gives them the same group.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "samples" / "news"


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}  "
            f"({self.predicted_pairs} predicted pairs, {self.true_pairs} true pairs)"
        )


def pairs(groups: dict[str, str]) -> set[frozenset[str]]:
    members: dict[str, list[str]] = {}
    for doc, group in groups.items():
        members.setdefault(group, []).append(doc)
    return {
        frozenset(pair)
        for docs in members.values()
        for pair in itertools.combinations(sorted(docs), 2)
    }


def score(truth: dict[str, str], predicted: dict[str, str]) -> Scores:
    true_pairs = pairs(truth)
    predicted_pairs = pairs({doc: predicted[doc] for doc in truth if doc in predicted})
    hits = len(true_pairs & predicted_pairs)
    precision = hits / len(predicted_pairs) if predicted_pairs else 1.0
    recall = hits / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, len(true_pairs), len(predicted_pairs))


def stored_groups(database: Path, corpus: Path, group: str) -> dict[str, str]:
    """Document (path relative to the corpus) → its GROUP (an SQL expression over articles),
    from the store."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(f"SELECT url, {group} FROM articles").fetchall()
    base = corpus.resolve()
    return {
        Path(unquote(urlparse(url).path)).relative_to(base).as_posix(): str(value)
        for url, value in rows
    }


def predicted_groups(database: Path, corpus: Path) -> dict[str, str]:
    """Each document's canonical article."""
    return stored_groups(database, corpus, "COALESCE(duplicate_of, id)")


def crawl(
    corpus: Path, database: Path, settings: dict[str, object]
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "files",
        "-a",
        f"path={corpus}",
        "-s",
        f"NEWS_DATABASE_URL=sqlite:///{database}",
        "-s",
        "LOG_LEVEL=WARNING",
    ]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def evaluate(
    corpus: Path = CORPUS,
    predicted: Callable[[Path, Path], dict[str, str]] = predicted_groups,
    **settings: object,
) -> Scores:
    """Crawl CORPUS into a fresh store and score PREDICTED (document → group, read from the
    store) against its labels.json."""
    truth = json.loads((corpus / "labels.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "quality.db"
        result = crawl(corpus, database, settings)
        if result.returncode != 0:
            raise RuntimeError(f"crawl failed ({result.returncode}): {result.stderr[-2000:]}")
        return score(truth, predicted(database, corpus))


def margins(corpus: Path = CORPUS) -> None:
    """Exact word-shingle Jaccard of the cleaned texts: the closest non-duplicates and the
    farthest duplicates, for each shingle size. A threshold belongs between the two."""
    from pipelines.textnorm import normalize_text, words

    truth = json.loads((corpus / "labels.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "margins.db"
        crawl(corpus, database, {})
        with sqlite3.connect(database) as conn:
            texts = dict(conn.execute("SELECT url, text FROM articles").fetchall())
    base = corpus.resolve()
    docs = {
        Path(unquote(urlparse(url).path)).relative_to(base).as_posix(): words(normalize_text(text))
        for url, text in texts.items()
    }
    print("shingle  lowest duplicate pair  highest non-duplicate pair")
    for k in (2, 3, 5):
        sets = {d: {" ".join(t[i : i + k]) for i in range(len(t) - k + 1)} for d, t in docs.items()}
        same: list[tuple[float, str, str]] = []
        other: list[tuple[float, str, str]] = []
        for a, b in itertools.combinations(sorted(sets), 2):
            jaccard = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
            (same if truth[a] == truth[b] else other).append((jaccard, a, b))
        low, high = min(same), max(other)
        print(f"{k:7d}  {low[0]:.3f} ({low[1]} ~ {low[2]})  {high[0]:.3f} ({high[1]} ~ {high[2]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="score the grid of parameters")
    parser.add_argument("--margins", action="store_true", help="exact Jaccard margins")
    args = parser.parse_args()
    if args.margins:
        margins()
        return
    if not args.sweep:
        print(f"current settings: {evaluate()}")
        return
    print("num_perm shingle threshold  precision recall    F1")
    for num_perm, shingle, threshold in itertools.product(
        (64, 128, 256), (2, 3, 5), (0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8)
    ):
        s = evaluate(
            NEWS_MINHASH_PERM=num_perm, NEWS_SHINGLE_SIZE=shingle, NEWS_DEDUP_THRESHOLD=threshold
        )
        print(
            f"{num_perm:8d} {shingle:7d} {threshold:9.1f}  {s.precision:9.3f} {s.recall:6.3f} "
            f"{s.f1:6.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Same-story grouping on real news pairs, through a real `scrapy crawl files`.

    python benchmarks/story_pairs.py                       # ../shared/data/story-pairs-dev.csv
    python benchmarks/story_pairs.py --pairs FILE.csv      # another pairs file of that shape
    python benchmarks/story_pairs.py --sweep 0.14,0.18,0.22,0.26,0.3
    python benchmarks/story_pairs.py -s NEWS_STORY_PERM=256

Every text of the pairs file (columns pair_id, lang, same_story, text_1, text_2; the first
line of a text is its title) is written once, as ``<lang>/<article id>.txt``, into one
folder, and the folder is ingested into a fresh store: all pairs in one store, as a crawl
would hold them, so that articles of unrelated pairs can glue stories together. A labelled
pair (same_story 1 or 0) is predicted to share a story when both articles end with one
``story_id``. Prints pairwise precision, recall and F1 per language and overall, the
largest story's size, and the same scores on samples/stories.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_quality import ROOT, crawl
from story_quality import evaluate_stories

DEV_PAIRS = ROOT.parent / "shared" / "data" / "story-pairs-dev.csv"


def read_pairs(path: Path) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, str, bool]]]:
    """Documents (id → language, text) and labelled pairs (language, id, id, same story)."""
    csv.field_size_limit(sys.maxsize)
    documents: dict[str, tuple[str, str]] = {}
    labelled = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            first, second = row["pair_id"].split("_", 1)
            documents.setdefault(first, (row["lang"], row["text_1"]))
            documents.setdefault(second, (row["lang"], row["text_2"]))
            if row["same_story"] in ("0", "1"):
                labelled.append((row["lang"], first, second, row["same_story"] == "1"))
    return documents, labelled


def write_documents(documents: dict[str, tuple[str, str]], folder: Path) -> None:
    for article, (language, text) in documents.items():
        target = folder / language / f"{article}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.strip() + "\n", "utf-8")


def stories_of(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT url, story_id FROM articles").fetchall()
    return {Path(unquote(urlparse(url).path)).stem: story for url, story in rows}


@dataclass(frozen=True)
class PairScores:
    precision: float
    recall: float
    f1: float
    same: int
    different: int

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}  "
            f"({self.same} same-story pairs, {self.different} different)"
        )


@dataclass(frozen=True)
class PairsResult:
    languages: dict[str, PairScores]  # and "all"
    largest: int
    stored: int
    documents: int

    def __str__(self) -> str:
        lines = [f"  {lang:>4}: {scores}" for lang, scores in self.languages.items()]
        lines.append(
            f"  largest story: {self.largest} articles; "
            f"{self.stored} of {self.documents} documents stored"
        )
        return "\n".join(lines)


def scores(
    labelled: list[tuple[str, str, str, bool]], story: dict[str, int]
) -> dict[str, PairScores]:
    """Precision, recall and F1 per language and overall."""
    result = {}
    for language in [*sorted({pair[0] for pair in labelled}), "all"]:
        chosen = [p for p in labelled if language in ("all", p[0])]
        tp = fp = fn = 0
        for _lang, first, second, same in chosen:
            predicted = first in story and story.get(first) == story.get(second)
            tp += predicted and same
            fp += predicted and not same
            fn += same and not predicted
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[language] = PairScores(precision, recall, f1, tp + fn, len(chosen) - tp - fn)
    return result


def run(path: Path, settings: dict[str, object]) -> PairsResult:
    documents, labelled = read_pairs(path)
    with tempfile.TemporaryDirectory() as tmp:
        folder, database = Path(tmp) / "docs", Path(tmp) / "pairs.db"
        write_documents(documents, folder)
        result = crawl(folder, database, settings)
        if result.returncode != 0:
            raise RuntimeError(f"crawl failed ({result.returncode}): {result.stderr[-2000:]}")
        story = stories_of(database)
    sizes = Counter(story.values())
    largest = max(sizes.values()) if sizes else 0
    return PairsResult(scores(labelled, story), largest, len(story), len(documents))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=DEV_PAIRS)
    parser.add_argument("--sweep", default="", help="comma-separated NEWS_STORY_THRESHOLD values")
    parser.add_argument("-s", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    settings: dict[str, object] = dict(item.split("=", 1) for item in args.s)
    if args.sweep:
        for threshold in args.sweep.split(","):
            chosen = {**settings, "NEWS_STORY_THRESHOLD": threshold}
            print(f"NEWS_STORY_THRESHOLD={threshold}", flush=True)
            print(run(args.pairs, chosen), flush=True)
            print(f"  samples/stories: {evaluate_stories(**chosen)}", flush=True)
        return
    print(f"{args.pairs.name}:\n{run(args.pairs, settings)}", flush=True)
    print(f"samples/stories: {evaluate_stories(**settings)}")


if __name__ == "__main__":
    main()

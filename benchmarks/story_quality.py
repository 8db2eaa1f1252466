"""Pairwise precision, recall and F1 of story grouping, and of near-duplicates, through real
crawls of the project's labelled sets.

    python benchmarks/story_quality.py           # the current settings
    python benchmarks/story_quality.py --sweep   # the grid that chose NEWS_STORY_THRESHOLD

Stories: samples/stories (labels.json gives each article its story), crawled into a fresh
store; a pair of articles is predicted to share a story when it ends with one story_id.
Near-duplicates: samples/news, as benchmarks/dedup_quality.py scores it.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_quality import ROOT, Scores, evaluate, stored_groups

STORIES = ROOT / "samples" / "stories"


def predicted_stories(database: Path, corpus: Path) -> dict[str, str]:
    """Each document's story."""
    return stored_groups(database, corpus, "story_id")


def evaluate_stories(corpus: Path = STORIES, **settings: object) -> Scores:
    return evaluate(corpus, predicted_stories, **settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="score the grid of parameters")
    args = parser.parse_args()
    if not args.sweep:
        print(f"stories ({STORIES.relative_to(ROOT)}): {evaluate_stories()}")
        print(f"near-duplicates (samples/news): {evaluate()}")
        return
    print("num_perm threshold  precision recall    F1")
    for num_perm, threshold in itertools.product(
        (64, 128, 256), (0.14, 0.16, 0.18, 0.2, 0.22, 0.24, 0.26, 0.28, 0.3)
    ):
        s = evaluate_stories(NEWS_STORY_PERM=num_perm, NEWS_STORY_THRESHOLD=threshold)
        print(
            f"{num_perm:8d} {threshold:9.2f}  {s.precision:9.3f} {s.recall:6.3f} {s.f1:6.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""A generated corpus for long runs: distinct articles, and lightly edited copies of them."""

from __future__ import annotations

import random
from pathlib import Path

VOCABULARY = [
    "council",
    "market",
    "river",
    "station",
    "budget",
    "school",
    "harvest",
    "contract",
    "energy",
    "hospital",
    "museum",
    "strike",
    "weather",
    "factory",
    "minister",
    "village",
    "bridge",
    "festival",
    "library",
    "court",
    "election",
    "port",
    "company",
    "farmer",
    "teacher",
    "police",
    "storm",
    "tram",
    "water",
    "price",
    "housing",
    "airport",
    "research",
]


def write_corpus(folder: Path, count: int) -> None:
    """Distinct articles, and every third one a lightly edited copy of an earlier one."""
    folder.mkdir()
    rng = random.Random(7)
    texts: list[str] = []
    for index in range(count):
        if index % 3 == 2:
            source = texts[rng.randrange(len(texts))]
            text = source.replace(" the ", " a ", 2) + f"\nUpdated at {index} hours."
        else:
            paragraphs = [
                " ".join(rng.choice(VOCABULARY) for _ in range(40)).capitalize() + "."
                for _ in range(5)
            ]
            text = f"Report number {index}\n" + "\n".join(paragraphs)
        texts.append(text)
        (folder / f"{index:04d}.txt").write_text(text, "utf-8")

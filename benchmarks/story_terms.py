"""What word folding buys story decisions: lemmas (simplemma) and stop words (stopwords-iso),
each left out in turn, on real news pairs.

    python benchmarks/story_terms.py                    # ../shared/data/story-pairs-dev.csv
    python benchmarks/story_terms.py --pairs FILE.csv
    python benchmarks/story_terms.py --candidates       # what LSH finds, by term choice

For each variant, every text of the pairs file gets its story terms (the stage's own
pipelines/storyfeatures.py, with the lemmatizer or the stop list swapped out) and a vector
(pipelines/storyvectors.py), with document frequencies over all the texts. It prints:

- the best pairwise F1 of the TF-IDF cosine over the clearly labelled pairs, and the
  threshold that gives it: how well the decision separates the pairs;
- the median Jaccard of the candidate sets (the strongest terms that MinHash signs) of
  same-story pairs, and how many texts share a candidate term with a text on average: what
  LSH can find, and what a look-up costs.

With --candidates it compares, instead, ways to choose the terms that MinHash signs and the
band layout that looks them up (the index stays 64 bands an article): the strongest terms
by count (the stage's choice, made in the workers) or by TF-IDF with the document
frequencies a crawl in file order would have at each text. For each, the share of
same-story pairs that LSH finds (the expected value, 1 - (1 - J^rows)^bands, over the
pairs' Jaccard J) and how many other texts a look-up finds on average.

No crawl: this isolates the features. benchmarks/story_pairs.py measures the pipeline.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from story_pairs import DEV_PAIRS, read_pairs

from db.records import DOCUMENTS_KEY
from pipelines.storyfeatures import (
    CANDIDATE_TERMS,
    TERMS,
    Lemmas,
    count_terms,
    stop_words,
    term_of,
)
from pipelines.storyvectors import article_vector, cosine


def plain(word: str, _language: str | None) -> str:
    return word.casefold()


def variant(
    documents: dict[str, tuple[str, str]],
    labelled: list[tuple[str, str, str, bool]],
    lemma: Callable[[str, str | None], str],
    stops: Callable[[str], frozenset[str]],
) -> str:
    terms = {}
    for doc, (language, text) in documents.items():
        title, _, body = text.strip().partition("\n")
        counted = count_terms(
            title, body, language, lambda w, lang: term_of(w, lang, lemma, stops(lang or ""))
        )
        terms[doc] = counted.most_common(TERMS)
    vectors = {doc: article_vector(found) for doc, found in terms.items()}
    frequencies: Counter[int] = Counter()
    for vector in vectors.values():
        frequencies.update(vector.keys())
    frequencies[DOCUMENTS_KEY] = len(vectors)
    scored = [
        (cosine(vectors[a], vectors[b], frequencies, len(vectors))[0], same)
        for _lang, a, b, same in labelled
    ]
    best_f1, best_threshold = 0.0, 0.0
    for step in range(2, 60):
        threshold = step / 100
        tp = sum(score >= threshold and same for score, same in scored)
        fp = sum(score >= threshold and not same for score, same in scored)
        fn = sum(score < threshold and same for score, same in scored)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1:
            best_f1, best_threshold = f1, threshold
    candidates = {doc: {t for t, _ in found[:CANDIDATE_TERMS]} for doc, found in terms.items()}
    same_jaccard = statistics.median(
        len(candidates[a] & candidates[b]) / max(len(candidates[a] | candidates[b]), 1)
        for _lang, a, b, same in labelled
        if same
    )
    sharing = statistics.mean(
        len({d for d, other in candidates.items() if other & found}) - 1
        for found in candidates.values()
    )
    return (
        f"best F1 {best_f1:.3f} at {best_threshold:.2f}; candidate sets: same-story median "
        f"Jaccard {same_jaccard:.3f}, {sharing:.1f} texts share a term with each"
    )


def candidate_layouts(
    documents: dict[str, tuple[str, str]], labelled: list[tuple[str, str, str, bool]]
) -> None:
    lemmas = Lemmas()
    order = sorted(documents, key=lambda doc: (documents[doc][0], doc))
    terms = {}
    for doc in order:
        language, text = documents[doc]
        title, _, body = text.strip().partition("\n")
        terms[doc] = count_terms(
            title, body, language, lambda w, lang: term_of(w, lang, lemmas.lemma)
        ).most_common(TERMS)
    # Document frequencies as the store has them when each text is looked up: the texts
    # before it, in the order a crawl of the folder reads them.
    seen: Counter[str] = Counter()
    by_tfidf = {}
    for number, doc in enumerate(order):
        seen.update(term for term, _ in terms[doc])
        weight = {
            term: (1 + math.log(count)) * (math.log((2 + number) / (1 + seen[term])) + 1)
            for term, count in terms[doc]
        }
        ranked = sorted(terms[doc], key=lambda tc: -weight[tc[0]])  # stable: lead first
        by_tfidf[doc] = {term for term, _ in ranked[:CANDIDATE_TERMS]}
    by_count = {doc: {t for t, _ in found[:CANDIDATE_TERMS]} for doc, found in terms.items()}
    sample = order[::5]
    for choice, sets in (("by count", by_count), ("by TF-IDF", by_tfidf)):

        def jaccard(a: str, b: str) -> float:
            return len(sets[a] & sets[b]) / max(len(sets[a] | sets[b]), 1)  # noqa: B023

        for bands, rows in ((64, 2), (64, 1)):

            def found(j: float) -> float:
                return 1 - (1 - j**rows) ** bands  # noqa: B023

            same = statistics.mean(found(jaccard(a, b)) for _l, a, b, s in labelled if s)
            load = statistics.mean(
                sum(found(jaccard(doc, other)) for other in order if other != doc) for doc in sample
            )
            print(
                f"{choice:>9}, {bands} bands of {rows} row(s): same-story pairs found "
                f"{same:.3f}; other texts found per look-up {load:.1f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=DEV_PAIRS)
    parser.add_argument("--candidates", action="store_true", help="candidate terms and bands")
    args = parser.parse_args()
    documents, labelled = read_pairs(args.pairs)
    if args.candidates:
        candidate_layouts(documents, labelled)
        return
    lemmas = Lemmas()
    none: Callable[[str], frozenset[str]] = lambda _language: frozenset()  # noqa: E731
    for name, lemma, stops in (
        ("lemmas and stop words", lemmas.lemma, stop_words),
        ("stop words, no lemmas", plain, stop_words),
        ("lemmas, no stop words", lemmas.lemma, none),
        ("neither", plain, none),
    ):
        print(f"{name:>22}: {variant(documents, labelled, lemma, stops)}", flush=True)


if __name__ == "__main__":
    main()

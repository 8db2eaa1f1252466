"""Duplicate detection on the project's labelled set, with the default settings."""

from __future__ import annotations

from benchmarks.dedup_quality import evaluate, score


def test_labelled_set_precision_and_recall():
    scores = evaluate()
    assert scores.true_pairs >= 40
    assert scores.precision >= 0.95, scores
    assert scores.recall >= 0.95, scores


def test_pairwise_scoring():
    truth = {"a": "x", "b": "x", "c": "y", "d": "y"}
    assert score(truth, {"a": "1", "b": "1", "c": "2", "d": "2"}).f1 == 1.0
    merged = score(truth, {"a": "1", "b": "1", "c": "1", "d": "1"})
    assert (merged.precision, merged.recall) == (2 / 6, 1.0)
    split = score(truth, {"a": "1", "b": "2", "c": "3", "d": "3"})
    assert (split.precision, split.recall) == (1.0, 0.5)

"""Story terms and their vectors: lemmas and stop words per language, figures, unspaced
scripts, and the TF-IDF cosine's properties."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from pipelines.storyfeatures import CANDIDATE_TERMS, StoryTerms, candidate_set
from pipelines.storyvectors import (
    CENTROID_TERMS,
    CentroidNorms,
    add_to_centroid,
    article_vector,
    cosine,
    idf_weights,
    pack,
    shared_cosine,
    term_key,
    unpack,
    weighted,
)

TERMS = StoryTerms()


def test_inflected_forms_meet_in_one_lemma_and_stop_words_go():
    german = TERMS.count("Häuser", "Die Polizei durchsuchte zwei Häuser und ein Haus.", "de")
    assert german["haus"] == 3  # the title counts as a line
    assert "die" not in german and "und" not in german
    spanish = TERMS.count(None, "Las elecciones y la elección del presidente.", "es")
    assert spanish["elección"] == 2 and "las" not in spanish
    french = TERMS.count(None, "L'usine de Douai recrute ; les usines ferment.", "fr")
    assert french["usine"] == 2 and french["douai"] == 1 and "les" not in french


def test_figures_are_one_spelling_and_small_integers_are_left_out():
    text = "2 000 emplois, 2,000 jobs, 2000 postes, 2\u00a0000 €, 2\u202f000 m ; 3 jours ; 1,5 %"
    counts = TERMS.count(None, text, "fr")
    assert counts["#2000"] == 5
    assert counts["#1.5"] == 1
    assert "#3" not in counts


def test_an_unknown_language_is_still_compared_and_unspaced_scripts_read_in_pairs():
    assert TERMS.count(None, "Kwame Nkrumah Kwame", "xx")["kwame"] == 2
    chinese = TERMS.count(None, "中国经济增长", "zh")
    assert chinese["经济"] == 1 and chinese["增长"] == 1


def test_the_candidate_set_is_the_strongest_terms_lead_first():
    text = "Solvane rachète Hydrelis. Solvane paie. Hydrelis traite l'eau. Douai, Lens, Arras."
    terms = TERMS(None, text, "fr")
    assert [t for t, _ in terms[:2]] == ["solvane", "hydrelis"]
    assert len(candidate_set(terms)) == min(CANDIDATE_TERMS, len(terms))


terms_strategy = st.lists(
    st.tuples(st.text(min_size=1, max_size=8), st.integers(min_value=1, max_value=9)),
    min_size=1,
    max_size=40,
    unique_by=lambda t: t[0],
)


@given(terms_strategy, terms_strategy, st.integers(min_value=0, max_value=10))
def test_the_cosine_is_symmetric_bounded_and_one_on_itself(first, second, extra):
    a, b = article_vector(first), article_vector(second)
    counts = {term_key(t): 1 for t, _ in first + second}
    documents = len(counts) + extra
    ab, shared = cosine(a, b, counts, documents)
    ba, _ = cosine(b, a, counts, documents)
    assert math.isclose(ab, ba, abs_tol=1e-9)
    assert -1e-9 <= ab <= 1 + 1e-9
    assert math.isclose(sum(shared.values()), ab, abs_tol=1e-9)
    assert math.isclose(cosine(a, a, counts, documents)[0], 1.0, abs_tol=1e-9)


@given(st.lists(terms_strategy, min_size=1, max_size=6))
def test_a_centroid_survives_its_stored_form_and_keeps_its_heaviest_terms(members):
    centroid: dict[int, float] = {}
    for terms in members:
        centroid = add_to_centroid(centroid, article_vector(terms))
    assert len(centroid) <= CENTROID_TERMS
    restored = unpack(pack(centroid))
    assert restored.keys() == centroid.keys()
    assert all(math.isclose(restored[k], v, rel_tol=1e-6) for k, v in centroid.items())


@given(terms_strategy, st.lists(terms_strategy, min_size=1, max_size=5))
def test_a_match_with_a_kept_length_is_the_full_cosine(article, members):
    """shared_cosine with the centroid's length from CentroidNorms equals the cosine that
    weighs both vectors in full, when the length was computed with the same counts."""
    vector = article_vector(article)
    centroid: dict[int, float] = {}
    for terms in members:
        centroid = add_to_centroid(centroid, article_vector(terms))
    counts = {key: 1 + key % 5 for key in vector.keys() | centroid.keys()}
    documents = 10 + max(counts.values())
    weigh = lambda keys: idf_weights(keys, counts, documents)  # noqa: E731
    lengths = CentroidNorms().lengths({7: pack(centroid)}, {7: centroid}, documents, weigh)
    weights = weigh(set(vector))
    score, shared = shared_cosine(weighted(vector, weights), centroid, lengths[7], weights)
    full, full_shared = cosine(vector, centroid, counts, documents)
    assert math.isclose(score, full, abs_tol=1e-9)
    assert shared.keys() == full_shared.keys()


def test_a_kept_length_serves_until_its_centroid_or_the_store_changes():
    norms = CentroidNorms()
    first = article_vector([("port", 3), ("strike", 2), ("dockers", 1)])
    second = add_to_centroid(first, article_vector([("port", 1), ("terminal", 2)]))
    asked: list[set[int]] = []

    def weigh(keys: set[int], df: int = 1) -> dict[int, float]:
        asked.append(keys)
        return idf_weights(keys, dict.fromkeys(keys, df), 1000)

    kept = norms.lengths({1: pack(first)}, {1: first}, 1000, weigh)[1]
    assert asked == [set(first)]
    # The same bytes, 2 % more documents at most: kept, nothing read.
    assert norms.lengths({1: pack(first)}, {1: first}, 1020, weigh) == {1: kept}
    assert len(asked) == 1
    # More growth than that, or fewer documents (a rolled-back batch): weighed again.
    norms.lengths({1: pack(first)}, {1: first}, 1021, weigh)
    norms.lengths({1: pack(first)}, {1: first}, 999, weigh)
    assert len(asked) == 3
    # A story whose centroid gained a member: weighed again, with its new terms.
    changed = norms.lengths({1: pack(second)}, {1: second}, 999, weigh)[1]
    assert asked[-1] == set(second)
    assert changed == weighted(second, weigh(set(second)))[1]
    # Two stories missing at once are weighed in one read.
    asked.clear()
    fresh = CentroidNorms()
    both = fresh.lengths({1: pack(first), 2: pack(second)}, {1: first, 2: second}, 5, weigh)
    assert asked == [set(first) | set(second)] and set(both) == {1, 2}

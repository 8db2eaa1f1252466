"""Story terms and their vectors: lemmas and stop words per language, figures, unspaced
scripts, and the TF-IDF cosine's properties."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from pipelines.storyfeatures import CANDIDATE_TERMS, StoryTerms, candidate_set
from pipelines.storyvectors import (
    CENTROID_TERMS,
    add_to_centroid,
    article_vector,
    cosine,
    pack,
    term_key,
    unpack,
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
    counts = TERMS.count(None, "2 000 emplois, 2,000 jobs, 2000 postes ; 3 jours ; 1,5 %", "fr")
    assert counts["#2000"] == 3
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

"""What an article is about, as a set of features that independent reports of one event share:
names, figures, and the terms the article keeps coming back to.

Copies of one text share its word shingles; two reporters covering the same event share
almost none (the seed corpus's two reports of one deal: 3-shingle Jaccard 0.03). They do
share who (capitalized names and acronyms), how much (numbers, units folded away) and
what (the content words each repeats most, and the title's). Each kind is a feature family
with a weight, applied by repeating a feature: MinHash estimates the Jaccard of sets, and a
feature present k times counts k times in both the intersection and the union.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter

from pipelines.textnorm import normalize_text

# Weights (copies per feature) and sizes, chosen on samples/stories (docs/dedup-and-stories.md).
NAME_WEIGHT = 2
NUMBER_WEIGHT = 3
TERM_WEIGHT = 1
KEY_TERMS = 8
MIN_TERM_LETTERS = 5
# Numbers below this are days, counts and ranks more often than facts of the story.
MIN_NUMBER = 10

# Words that start sentences or titles in capitals without naming anything, and common
# words, in the two languages of the project's sources. Folded: lower case, no accents.
STOPWORDS = frozenset(
    """
    a an and are as at be been but by for from had has have he her his in is it its of on
    or our she that the their them there they this to was we were which who will with would
    after also about over more than into out up down new one two three four five six seven
    eight nine ten said says year years day days week weeks month months per cent percent
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december
    le la les un une des du de d l au aux et ou en dans sur sous pour par avec sans ce cet
    cette ces son sa ses leur leurs il elle ils elles on nous vous qui que quoi dont est
    sont etait etaient ete a ont avait plus moins tres deja selon apres avant depuis entre
    chez aussi mais donc car ni si tout tous toute toutes lundi mardi mercredi jeudi
    vendredi samedi dimanche janvier fevrier mars avril mai juin juillet aout septembre
    octobre novembre decembre annee annees jour jours semaine mois millions milliards
    million milliard euros euro dollars dollar pounds pound
    """.split()  # noqa: SIM905 (a word list reads best as text)
)

_TOKEN_RE = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
# 2 000 · 2,000 · 9,2 · 1.2 · 3.5 · 46 (spaces inside French thousands included)
# (The look-ahead first lets the engine reject a non-digit before trying the look-behind.)
_NUMBER_RE = re.compile(r"(?=\d)(?<![\w.,])(?:\d{1,3}(?:[  \u202f]\d{3})+(?!\d)|\d+(?:[.,]\d+)*)")
# What may stand between the end of a sentence and the next word.
_BREAK_RE = re.compile(r"[.!?:;\"«»()\[\]\u2013\u2014-]")
_ELISION_RE = re.compile(r"['’]")


# Every word of every article is folded, and news reuses its words: the cache turns most
# folds into one dictionary look-up. Bounded, so an unending crawl does not grow it.
@functools.lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """Lower case, accents removed, a final plural s/x dropped, elisions (l', d') cut."""
    word = unicodedata.normalize("NFKD", word.casefold())
    word = "".join(ch for ch in word if not unicodedata.combining(ch))
    word = _ELISION_RE.split(word)[-1]
    if len(word) > 4 and word[-1] in "sx":
        word = word[:-1]
    return word


def number_value(raw: str) -> str | None:
    """A number as one spelling: thousands separators removed, decimal comma to a point."""
    digits = re.sub(r"[  \u202f]", "", raw)
    if re.fullmatch(r"\d{1,3}(,\d{3})+", digits):
        digits = digits.replace(",", "")
    digits = digits.replace(",", ".")
    try:
        value = float(digits)
    except ValueError:
        return None
    if value < MIN_NUMBER and value.is_integer():
        return None
    return f"{value:g}"


def names(title: str, text: str) -> set[str]:
    """Capitalized words and acronyms. One that opens a sentence, or is in the title (where
    headline case capitalizes everything), counts only if it is capitalized mid-sentence
    somewhere in the text too: a name, not a sentence's first word."""
    inside: set[str] = set()
    # The title only ever opens: every word of it is skipped, so only the text is read.
    for line in text.splitlines():
        # Word by word, never a list of a line's words: one line may be a whole long text.
        previous_end = -1  # the line's first word opens it
        for match in _TOKEN_RE.finditer(line):
            word, start = match.group(), match.start()
            if (
                previous_end >= 0
                and word[0].isupper()
                and not _BREAK_RE.search(line, previous_end, start)
            ):
                folded = fold(word)
                if folded not in STOPWORDS and len(folded) > 1:
                    inside.add(folded)
            previous_end = match.end()
    return inside


def key_terms(text: str, excluded: set[str]) -> list[str]:
    """The content words the text repeats most (ties: first seen first)."""
    # Counter keeps first-seen order and most_common sorts stably, so filtering the counted
    # words afterwards ranks them as counting only the kept ones would.
    counts = Counter(fold(match.group()) for match in _TOKEN_RE.finditer(normalize_text(text)))
    kept = Counter(
        {
            word: count
            for word, count in counts.items()
            if len(word) >= MIN_TERM_LETTERS and word not in STOPWORDS and word not in excluded
        }
    )
    return [word for word, _ in kept.most_common(KEY_TERMS)]


def story_features(title: str | None, text: str) -> list[bytes]:
    """The weighted feature set of an article, ready for MinHash.update_batch."""
    title = title or ""
    found = names(title, text)
    numbers = {n for raw in _NUMBER_RE.findall(f"{title}\n{text}") if (n := number_value(raw))}
    terms = set(key_terms(text, found))
    terms |= {
        fold(w)
        for w in _TOKEN_RE.findall(title)
        if len(fold(w)) >= MIN_TERM_LETTERS and fold(w) not in STOPWORDS and fold(w) not in found
    }
    features = [f"n:{name}#{i}" for name in found for i in range(NAME_WEIGHT)]
    features += [f"#:{number}#{i}" for number in numbers for i in range(NUMBER_WEIGHT)]
    features += [f"t:{term}#{i}" for term in terms for i in range(TERM_WEIGHT)]
    return [feature.encode("utf-8") for feature in sorted(features)]

"""What an article is about, as story grouping compares it: its story terms.

Copies of one text share its word shingles; two reporters covering one event share almost
none of them. They do share the event's vocabulary: who, where, what, and how much. An
article's story terms are its content words folded to their lemmas, with the language's
stop words left out, and its figures; each counts as often as the article uses it.

- Lemmas come from simplemma and stop words from stopwords-iso, each in the article's
  detected language: one set of rules for every language either library knows. A language
  that neither knows is still folded to lower case and compared, only less well.
- Text without spaces between words (Chinese, Japanese) is read as character pairs.

Two forms are kept (docs/dedup-and-stories.md says how their sizes were chosen):
- the article's TERMS strongest terms, with their counts: what a story decision weighs
  against a story's centroid (pipelines/storyvectors.py);
- its CANDIDATE_TERMS strongest terms as a set: what MinHash signs, so that LSH finds the
  stored articles that share the article's main terms.
"""

from __future__ import annotations

import functools
import marshal
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

from pipelines.cache import cached, version_of

# simplemma and stopwords-iso are imported where an article's terms are first counted
# (0.18 s of CPU): a crawl process whose workers count the terms never needs them.

# The vector kept per article, and the set whose MinHash finds candidates.
TERMS = 48
CANDIDATE_TERMS = 8
# Shorter words are mostly particles and abbreviations that stop lists miss.
MIN_LETTERS = 3
# Integers below this are days, counts and ranks more often than the story's facts.
MIN_NUMBER = 10
NUMBER_PREFIX = "#"
# The longest word cut off before an apostrophe as elided (French qu', Italian dell').
ELIDED_LETTERS = 4

_TOKEN_RE = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
# 2 000 · 2,000 · 9,2 · 1.2 · 3.5 · 46, thousands also apart by a no-break or narrow
# no-break space (French typography): a figure starts at a digit that follows no letter,
# digit, point or comma.
NUMBER_DEFINITION = r"(?<![\w.,])(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+(?:[.,]\d+)*)"
# The same, written to begin with the first digit: the engine then scans for digits in C
# and tries the look-behind only there, in half the time (a property test holds the two
# equal).
_NUMBER_RE = re.compile(
    r"\d(?<![\w.,]\d)(?:\d{0,2}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d*(?:[.,]\d+)*)"
)
_ELISION_RE = re.compile(r"['’]")
# Scripts written without spaces between words: Han, Hiragana, Katakana, Hangul syllables.
_UNSPACED_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


@functools.lru_cache(maxsize=256)
def stop_words(language: str | None) -> frozenset[str]:
    """stopwords-iso's list for LANGUAGE, folded as terms are; empty for an unknown one."""
    import stopwordsiso

    if not language or not stopwordsiso.has_lang(language):
        return frozenset()
    return frozenset(_plain(word) for word in stopwordsiso.stopwords(language))


def _plain(word: str) -> str:
    return unicodedata.normalize("NFC", word.casefold())


class Lemmas:
    """simplemma's lemmatizer, whose dictionaries are kept decoded in CACHE_DIR: simplemma
    decodes a language's dictionary in every process that meets the language (German: 2.0 s
    of CPU here), reading the decoded form back took 0.6 s. It is simplemma's dictionary
    factory for its own lemmatizer. Lemmas are not cached here: StoryTerms caches each
    word's whole fold, lemma included."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        import simplemma
        from simplemma.strategies import DefaultStrategy

        self.cache_dir = cache_dir
        self._dictionaries: dict[str, Mapping[str, str]] = {}
        strategy = DefaultStrategy(dictionary_factory=self)
        self._lemmatizer = simplemma.Lemmatizer(lemmatization_strategy=strategy)

    def get_dictionary(self, lang: str) -> Mapping[str, str]:
        from simplemma.strategies.dictionaries import DefaultDictionaryFactory
        from simplemma.strategies.dictionaries.dictionary_factory import MappingStrToByteString

        found = self._dictionaries.get(lang)
        if found is None and self.cache_dir is None:
            found = self._dictionaries[lang] = DefaultDictionaryFactory().get_dictionary(lang)
        elif found is None:

            def decode() -> bytes:
                shipped = DefaultDictionaryFactory(cache_max_size=0).get_dictionary(lang)
                return marshal.dumps({k.encode(): v.encode() for k, v in shipped.items()})

            # Kept as bytes, as simplemma keeps them: half the memory of str.
            name = f"simplemma-{lang}-{version_of('simplemma')}"
            table = marshal.loads(cached(self.cache_dir, name, decode))
            found = self._dictionaries[lang] = MappingStrToByteString(table)
        return found

    def lemma(self, word: str, language: str | None) -> str:
        """WORD's lemma in LANGUAGE, folded to lower case; the word itself where simplemma
        has no dictionary for the language. A possessive 's and an elided article or
        preposition (l', d', qu', dell') are cut first."""
        parts = _ELISION_RE.split(word)
        if len(parts) > 1 and parts[-1].casefold() in ("s", ""):
            parts = parts[:-1]  # a possessive: Ashford's, the Velora's
        if len(parts) > 1 and len(parts[0]) <= ELIDED_LETTERS:
            parts = parts[1:]  # an elided article or preposition: l'usine, dell'Italia
        word = "'".join(part for part in parts if part)
        if word and language in simplemma_languages():
            word = self._lemmatizer.lemmatize(word, lang=language)
        return _plain(word)


@functools.cache
def simplemma_languages() -> frozenset[str]:
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    return frozenset(SUPPORTED_LANGUAGES)


# Cached: a page repeats its figures and dates, and news repeats them across pages.
@functools.lru_cache(maxsize=1 << 14)
def number_value(raw: str) -> str | None:
    """A number as one spelling: thousands separators removed, decimal comma to a point."""
    digits = re.sub(r"[ \u00a0\u202f]", "", raw)
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


class StoryTerms:
    """The story terms of articles, with the lemmatizer and its caches that they need (made
    on the first article)."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._lemmas: Lemmas | None = None
        # Word and language → term, stop words and lemma in one look-up (news reuses its
        # words); bounded, so an unending crawl does not grow it.
        self._term: Callable[[str, str | None], str | None] | None = None

    @property
    def lemmas(self) -> Lemmas:
        if self._lemmas is None:
            self._lemmas = Lemmas(self.cache_dir)
        return self._lemmas

    def __call__(self, title: str | None, text: str, language: str | None) -> list[tuple[str, int]]:
        """The article's TERMS most used story terms with their counts, most used first
        (ties: first seen first, as Counter keeps them): the lead's words before the tail's."""
        return self.count(title, text, language).most_common(TERMS)

    def count(self, title: str | None, text: str, language: str | None) -> Counter[str]:
        """Every story term of an article, with its count (the title counts as a line)."""
        if self._term is None:
            self._term = functools.lru_cache(maxsize=1 << 17)(
                functools.partial(term_of, lemma=self.lemmas.lemma)
            )
        return count_terms(title, text, language, self._term)


def term_of(
    word: str,
    language: str | None,
    lemma: Callable[[str, str | None], str],
    stops: frozenset[str] | None = None,
) -> str | None:
    """The story term a word stands for: its lemma, unless it is short or a stop word.
    STOPS: the language's stop words unless given (benchmarks/story_terms.py compares)."""
    stops = stop_words(language) if stops is None else stops
    if len(word) < MIN_LETTERS or _plain(word) in stops:
        return None
    term = lemma(word, language)
    return term if len(term) >= MIN_LETTERS and term not in stops else None


def count_terms(
    title: str | None,
    text: str,
    language: str | None,
    term: Callable[[str, str | None], str | None],
) -> Counter[str]:
    """Every story term of an article, with its count (the title counts as a line); TERM
    maps a word to its term (term_of)."""
    counts: Counter[str] = Counter()
    get = counts.get  # not counts[key] += 1: Counter's __missing__ is a Python call per new key
    for part in (title or "", text):
        # Words are counted first (in C), then each distinct word is folded once; Counter
        # keeps first-seen order, so ties still rank the lead's words first.
        unspaced = _UNSPACED_RE.search(part) is not None
        for word, count in Counter(_TOKEN_RE.findall(part)).items():
            if unspaced and _UNSPACED_RE.search(word):
                for run in _UNSPACED_RE.findall(word):
                    for i in range(max(len(run) - 1, 1)):
                        counts[run[i : i + 2]] += count
                continue
            found = term(word, language)
            if found is not None:
                counts[found] = get(found, 0) + count
        for raw in _NUMBER_RE.findall(part):
            if (number := number_value(raw)) is not None:
                number = NUMBER_PREFIX + number
                counts[number] = get(number, 0) + 1
    return counts


def candidate_set(terms: list[tuple[str, int]]) -> list[bytes]:
    """The set MinHash signs: the strongest CANDIDATE_TERMS of STORY_TERMS' output."""
    return [term.encode("utf-8") for term, _ in terms[:CANDIDATE_TERMS]]

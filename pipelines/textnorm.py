"""Text normalization shared by the stages: the form that is hashed and shingled, never stored."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Typographic variants that copies of one article disagree on; NFKC leaves these alone.
_PUNCT = {
    "\u2018": "'",  # left single quote
    "\u2019": "'",  # right single quote / typographic apostrophe
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u02bc": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2039": '"',
    "\u203a": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2212": "-",
    "\u2026": "...",
}
# A regex finds the few such characters in C; str.translate with a mapping would look up
# every character of the text in Python, which made it most of the normalization's cost.
_PUNCT_RE = re.compile("[" + "".join(_PUNCT) + "]")
_WORD_RE = re.compile(r"\w+")
# C0/C1 controls other than tab and newline: never meaningful in an article, and PostgreSQL
# refuses NUL in text columns.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters that render
# as nothing, such as soft hyphens, zero-width spaces and joiners, bidi controls, variation
# selectors and tags. A copy sprinkled with them reads the same, so the fingerprints drop
# them; the stored text keeps them.
_IGNORABLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def strip_controls(text: str) -> str:
    """Remove control characters (keeping newlines and tabs)."""
    return _CONTROL_RE.sub("", text)


def stored_form(text: str) -> str:
    """Text as the store keeps it: no control characters, and Unicode NFC, the form
    trafilatura returns and most tools expect (a page may spell "é" as "e" and a combining
    accent; NFC composes it, and changes nothing else a reader sees)."""
    return unicodedata.normalize("NFC", strip_controls(text))


def normalize_text(text: str) -> str:
    """Default-ignorable characters dropped, NFKC, plain quotes, apostrophes and dashes, case
    folded, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", _IGNORABLE_RE.sub("", text))
    text = _PUNCT_RE.sub(lambda match: _PUNCT[match.group()], text).casefold()
    # str.split() and re's \s agree on what whitespace is (both use Py_UNICODE_ISSPACE).
    return " ".join(text.split())


def words(normalized: str) -> list[str]:
    """The word tokens of normalized text; punctuation is not part of a shingle."""
    return _WORD_RE.findall(normalized)


def iter_words(normalized: str) -> Iterator[str]:
    """:func:`words`, one at a time, for texts too long to hold as a list of words."""
    return (match.group() for match in _WORD_RE.finditer(normalized))

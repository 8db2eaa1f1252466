"""Trailing boilerplate in extracted text: related-article lists, comment prompts, share bars.

A *marker line* is a line that is nothing but a known block heading ("Articles connexes",
"Leave a comment", "3 commentaires", ...). The trailer is the block at the end of the text
that such a marker opens, after at least one line of body:

- a comment or sharing prompt opens it whatever follows (what follows is the readers', not
  the article's);
- any other marker ("Related", "See also", "Lire aussi") opens it only when every line
  after it is a teaser (headline-long, one sentence not ended by a full stop; or an
  excerpt cut off with an ellipsis) or a marker itself. Inside
  the body, such a marker is removed as that line, and the paragraphs after it stay.

A line that starts with a teaser prefix and goes on with a headline ("À lire aussi : ...")
is removed on its own, wherever it stands. The rules are idempotent and cut nothing from a
text that has no marker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipelines.textnorm import normalize_text

# Markers after which nothing is the article's: prompts for readers' comments (French, English).
PROMPT_MARKERS: tuple[str, ...] = (
    "laisser un commentaire",
    "laissez un commentaire",
    "laisser une réponse",
    "ajouter un commentaire",
    "commentaires",
    "commentaire",
    "réagir",
    "réagissez",
    "leave a comment",
    "leave a reply",
    "add a comment",
    "comments",
    "comment",
    "join the conversation",
)
# Headings that open a block which is not part of the article. Compared after
# normalize_text, so case, accents' composition and typographic quotes do not matter.
TRAILER_MARKERS: tuple[str, ...] = (
    *PROMPT_MARKERS,
    # French: related articles
    "articles connexes",
    "articles similaires",
    "articles liés",
    "à lire aussi",
    "a lire aussi",
    "à lire également",
    "lire aussi",
    "lire la suite",
    "sur le même sujet",
    "dans la même rubrique",
    "les plus lus",
    "nos autres articles",
    "vous aimerez aussi",
    "vous aimerez peut-être aussi",
    "ces articles peuvent vous intéresser",
    "à découvrir aussi",
    "voir aussi",
    # French: sharing, newsletter
    "partager",
    "partager cet article",
    "partagez cet article",
    "inscrivez-vous à notre newsletter",
    "abonnez-vous à notre newsletter",
    # English: related articles
    "related articles",
    "related stories",
    "related posts",
    "related coverage",
    "related",
    "read more",
    "read also",
    "read next",
    "see also",
    "more from",
    "more stories",
    "more on this story",
    "you may also like",
    "you might also like",
    "recommended",
    "recommended for you",
    "most read",
    "most popular",
    "trending",
    # English: sharing, newsletter
    "share this article",
    "share this story",
    "share",
    "sign up for our newsletter",
    "subscribe to our newsletter",
)

# A teaser line is a headline: at most this long, one sentence without a full stop.
TEASER_MAX_CHARS = 160

# Prefixes of single-line teasers inside the body: "À lire aussi : <headline>".
TEASER_PREFIXES: tuple[str, ...] = (
    "à lire aussi",
    "a lire aussi",
    "à lire également",
    "lire aussi",
    "voir aussi",
    "read also",
    "read more",
    "see also",
    "related",
)

_TRIM = " \t:.-–—…>»|#*•"
# How teasers' excerpts end.
_ELLIPSES = ("…", "...", "[…]", "[...]", "(…)", "(...)")
# The end of a sentence that another follows.
_SENTENCE_END_RE = re.compile(r"[.!?…](?:[\"'»”)\]]*)\s+\S")
_COUNTED_RE = re.compile(
    r"^(\d+\s+)?(comments?|commentaires?|réactions?|replies|réponses?)(\s*\(\d+\))?$"
)


class TrailerCutter:
    """Cuts trailing boilerplate; ``extra_markers`` add to the built-in headings."""

    def __init__(self, extra_markers: Iterable[str] = ()) -> None:
        self.markers = frozenset(
            normalize_text(m).strip(_TRIM) for m in (*TRAILER_MARKERS, *extra_markers)
        )
        self.prompts = frozenset(normalize_text(m).strip(_TRIM) for m in PROMPT_MARKERS)
        self.teaser_prefixes = tuple(normalize_text(p) for p in TEASER_PREFIXES)

    def is_marker(self, line: str) -> bool:
        key = normalize_text(line).strip(_TRIM)
        return key in self.markers or bool(_COUNTED_RE.match(key))

    def is_teaser(self, line: str) -> bool:
        key = normalize_text(line)
        for prefix in self.teaser_prefixes:
            if key.startswith(prefix):
                rest = key[len(prefix) :]
                # Only "prefix: headline" or "prefix - headline", not a sentence that
                # happens to begin with the same words.
                if rest[:2].strip().startswith((":", "-", ">", "»", "|")) and rest.strip(_TRIM):
                    return True
        return False

    def is_prompt(self, line: str) -> bool:
        key = normalize_text(line).strip(_TRIM)
        return key in self.prompts or bool(_COUNTED_RE.match(key))

    @staticmethod
    def is_headline(line: str) -> bool:
        """What a list of teasers is made of: a headline (headline-long, one sentence
        that does not end in a full stop, as an article's own short paragraphs do) or an
        excerpt cut off with an ellipsis."""
        line = line.rstrip()
        if line.endswith(_ELLIPSES):
            return True
        return (
            len(line) <= TEASER_MAX_CHARS
            and not line.endswith(".")
            and _SENTENCE_END_RE.search(line) is None
        )

    def cut_lines(self, lines: list[str]) -> list[str]:
        kept = [line for line in lines if not self.is_teaser(line)]
        body: list[str] = []
        for index, line in enumerate(kept):
            if not body or not self.is_marker(line):
                body.append(line)
                continue
            rest = kept[index + 1 :]
            if self.is_prompt(line) or all(
                self.is_headline(other) or self.is_marker(other) for other in rest
            ):
                return body
            # A marker inside the body: only the line goes.
        return body

    def cut(self, text: str) -> str:
        """The text without teaser lines and without anything from the first trailer on."""
        lines = [line.strip() for line in text.splitlines()]
        return "\n".join(self.cut_lines([line for line in lines if line]))

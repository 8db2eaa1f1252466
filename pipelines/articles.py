"""Article or not: a web page's evidence weighed with its extracted text.

The rule, in order (docs/sources.md gives the measurements behind it):

1. A listing's claim (a feed entry, a news sitemap entry) or a JSON-LD article type makes
   the page an article.
2. A JSON-LD list type (CollectionPage, SearchResultsPage, ProfilePage, …) or a URL of
   list shape (front page, /tag/…, /category/…, /author/…, /page/N) makes it a list.
3. ``og:type=article``, or a URL shaped like one article's (a slug of three words or more,
   a long id, a date in the path), makes it an article. Any other ``og:type``
   (``website``, ``video.other``, …) proves nothing: many publishers mark every page
   ``website``.
4. Without evidence either way, the text decides: a page whose headline links outnumber
   its extracted text (one per CHARS_PER_HEADLINE_LINK characters or more) is a list of
   teasers; any other page is an article.

Length is judged after this, by NEWS_MIN_TEXT_CHARS, for every page alike.
"""

from __future__ import annotations

from crawler.evidence import UNDECIDED, evidence_verdict
from crawler.items import Evidence

# One headline link for fewer characters of text than this: the text is the teasers'.
CHARS_PER_HEADLINE_LINK = 40


def not_an_article(evidence: Evidence, text: str) -> str | None:
    """Why the page is not an article, or None when it is one."""
    verdict = evidence_verdict(evidence)
    if verdict is not UNDECIDED:
        return verdict
    if evidence.headline_links * CHARS_PER_HEADLINE_LINK > len(text):
        return (
            f"{evidence.headline_links} headline links for {len(text)} characters of text, "
            "and nothing says it is an article"
        )
    return None

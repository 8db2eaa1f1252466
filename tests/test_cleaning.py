"""Cleaning of plain text and HTML: titles, trailers, metadata."""

from __future__ import annotations

import errno
import tempfile
from datetime import datetime

from pipelines.boilerplate import TrailerCutter
from pipelines.cleaner import Cleaner, split_title
from pipelines.language import LanguageDetector
from pipelines.textnorm import normalize_text

BODY = [
    "The council voted on Tuesday to extend the tram line to the eastern estates.",
    "Construction starts in March and the first trams should run in 2029.",
]


def cleaner(*extra: str) -> Cleaner:
    return Cleaner(list(extra))


def test_title_is_first_line_and_its_repeat_is_dropped():
    title, body = split_title(["Tram extension approved", "Tram extension approved", *BODY])
    assert title == "Tram extension approved"
    assert body == BODY


def test_a_paragraph_first_line_stays_in_the_body():
    lines = ["This first line is a whole paragraph and ends as a sentence does. It goes on.", *BODY]
    title, body = split_title(lines)
    assert title == "This first line is a whole paragraph and ends as a sentence does"
    assert body == lines


def test_trailer_blocks_are_cut_in_french_and_english():
    cutter = TrailerCutter()
    for marker in (
        "Articles connexes",
        "À lire aussi :",
        "Related articles",
        "LEAVE A COMMENT",
        "Laisser un commentaire",
        "12 commentaires",
        "Comments (3)",
    ):
        text = "\n".join([*BODY, marker, "Another story entirely", "And its teaser…"])
        assert cutter.cut(text) == "\n".join(BODY), marker


def test_inline_teaser_line_is_removed_and_the_body_kept():
    text = "\n".join([BODY[0], "À lire aussi : Le budget des transports en hausse", BODY[1]])
    assert TrailerCutter().cut(text) == "\n".join(BODY)


def test_marker_words_inside_a_sentence_are_kept():
    text = "\n".join([*BODY, "Residents can leave a comment on the council website until May."])
    assert TrailerCutter().cut(text) == text


def test_extra_markers_from_settings():
    text = "\n".join([*BODY, "Nos partenaires", "Sponsored link"])
    assert TrailerCutter().cut(text) == text
    assert TrailerCutter(["Nos partenaires"]).cut(text) == "\n".join(BODY)


def test_plain_text_keeps_original_characters():
    raw = "Titre « exact »\nL’article garde ses apostrophes typographiques et ses « guillemets ».\n"
    cleaned = cleaner().clean_text(raw)
    assert cleaned is not None
    assert cleaned.title == "Titre « exact »"
    assert cleaned.text == "L’article garde ses apostrophes typographiques et ses « guillemets »."


def test_normalized_form_folds_typography_and_case():
    assert normalize_text("L’IA  «Claude»\u00a0—  OK") == 'l\'ia "claude" - ok'


PAGE = """<!DOCTYPE html><html lang="en"><head><title>Library reopens | Courier</title>
<meta property="og:site_name" content="The Courier"><meta name="author" content="Ann Lee">
<meta property="article:published_time" content="2026-03-02T09:00:00Z"></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Library reopens</h1>
<p>The central library reopened on Saturday after a restoration that took three years.</p>
<p>More than four thousand people visited on the first day, the culture department said.</p>
<p>The building will now stay open until nine in the evening on weekdays.</p>
<h2>Related articles</h2><ul><li><a href="/x">Museum extension delayed again</a></li></ul>
</article>
<section id="comments"><h3>Leave a comment</h3><form><textarea></textarea></form></section>
<footer>© The Courier. All rights reserved.</footer></body></html>"""


def test_html_extraction_with_metadata():
    cleaned = cleaner().clean_html(PAGE, "https://courier.example/library")
    assert cleaned is not None
    assert cleaned.title == "Library reopens"
    assert cleaned.author == "Ann Lee"
    assert cleaned.site_name == "The Courier"
    assert cleaned.published_at == datetime(2026, 3, 2)
    assert cleaned.text.splitlines() == [
        "The central library reopened on Saturday after a restoration that took three years.",
        "More than four thousand people visited on the first day, the culture department said.",
        "The building will now stay open until nine in the evening on weekdays.",
    ]


def test_the_language_model_loads_without_a_temporary_file(monkeypatch):
    """A full temporary disk must not fail every article: py3langid's model is unpacked in
    memory, never into a temporary file."""

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_space)
    detector = LanguageDetector()
    assert detector.detect("Les élus ont voté le budget de la ville mardi soir.") == "fr"
    assert detector.detect("The council voted on the city's budget on Tuesday night.") == "en"
    assert detector.detect("   ") is None


def test_the_unpacked_language_model_is_cached_for_the_next_process(tmp_path):
    cache = tmp_path / "cache"
    first = LanguageDetector(cache)
    assert first.detect("Les élus ont voté le budget de la ville mardi soir.") == "fr"
    [cached] = cache.glob("py3langid-*.npz")
    assert cached.stat().st_size > 10_000_000  # the unpacked arrays
    # Read back as it was written: the same answers from the cached file.
    assert LanguageDetector(cache).detect("The council voted on the budget.") == "en"
    assert list(cache.iterdir()) == [cached]  # nothing half-written left beside it
    # A cache that cannot be made (its folder is a file) is only skipped.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    assert (
        LanguageDetector(blocked / "cache").detect("Der Rat hat den Haushalt beschlossen.") == "de"
    )


def test_a_related_line_inside_the_body_goes_alone_and_the_article_stays():
    later = [
        "Opponents say the eastern estates need buses first. The council disagrees.",
        "A public inquiry opens in January.",
    ]
    for marker in ("Related", "See also", "À lire aussi", "Lire aussi :"):
        text = "\n".join([*BODY, marker, *later])
        assert TrailerCutter().cut(text) == "\n".join([*BODY, *later]), marker


def test_an_inline_related_teaser_line_goes_alone():
    text = "\n".join([BODY[0], "Related: Budget for buses doubles", BODY[1]])
    assert TrailerCutter().cut(text) == "\n".join(BODY)


def test_a_trailer_of_headlines_and_cut_off_excerpts_is_cut():
    trailer = [
        "See also",
        "Budget for buses doubles",
        "The council's budget for buses doubles next year. Routes to the estates [...]",
        "Why the tram took ten years",
    ]
    assert TrailerCutter().cut("\n".join([*BODY, *trailer])) == "\n".join(BODY)


def test_readers_comments_after_a_prompt_are_cut_even_as_paragraphs():
    comments = ["Leave a comment", "I have waited for this tram for years. Finally it comes."]
    assert TrailerCutter().cut("\n".join([*BODY, *comments])) == "\n".join(BODY)


def test_stored_text_and_title_are_nfc():
    decomposed = "Cafe\u0301 de la gare : la re\u0301ouverture est fixe\u0301e"
    body = "Le cafe\u0301 rouvre ses portes le 3 mars apre\u0300s deux ans de travaux. " * 3
    page = (
        f"<html><head><title>{decomposed}</title></head><body><article><h1>{decomposed}</h1>"
        f"<p>{body}</p></article></body></html>"
    )
    cleaned = cleaner().clean_html(page, "https://example.org/cafe")
    assert cleaned is not None and cleaned.title is not None
    assert "\u0301" not in cleaned.text and "\u0300" not in cleaned.text
    assert "café rouvre" in cleaned.text and "après" in cleaned.text
    assert cleaned.title.startswith("Café de la gare")
    composed_body = body.replace("e\u0301", "é").replace("e\u0300", "è")
    assert cleaner().clean_text(f"{decomposed}\n{body}") == cleaner().clean_text(
        f"Café de la gare : la réouverture est fixée\n{composed_body}"
    )

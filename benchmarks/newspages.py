"""Generated news pages for the benchmarks: articles with their own topic words, names and
figures, in site templates. Light pages carry a site's chrome of a few hundred links around
the article, about 20 to 40 KB; heavy ones (benchmarks/heavypages.py) are shaped like the
pages news sites serve today, 80 to 200 KB. Everything here is made up; the words come from
the project's own sample articles.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from benchmarks.heavypages import heavy_page

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [
    *sorted((ROOT / "samples" / "news").glob("*.txt")),
    *sorted((ROOT / "samples" / "stories").glob("*.txt")),
]
TEMPLATES = [
    # (site name, header, aside, footer)
    (
        "The Valley Courier",
        "<nav><a href='/'>Home</a> <a href='/news/'>News</a> <a href='/sport/'>Sport</a></nav>",
        "<aside><h2>Most read</h2><ul><li><a href='/a'>Council budget</a></li><li><a href='/b'>Weather</a></li></ul></aside>",
        "<footer>© The Valley Courier. All rights reserved. <a href='/privacy'>Privacy</a></footer>",
    ),
    (
        "Le Petit Riverain",
        "<header><div class='logo'>Le Petit Riverain</div><ul class='menu'><li>Accueil</li><li>Régions</li></ul></header>",
        "<div class='related'><h3>Articles connexes</h3><p><a href='/x'>Le marché rouvre</a></p></div>",
        "<div id='footer'>Tous droits réservés. <a href='/cgu'>CGU</a></div><script>var t=1;</script>",
    ),
    (
        "Northern Wire",
        "<div class='top'><span>Northern Wire</span><form><input name='q'></form></div>",
        "<section class='comments'><h2>Leave a comment</h2><textarea></textarea></section>",
        "<footer><p>Northern Wire Ltd, registered in England.</p><p>Subscribe to our newsletter</p></footer>",
    ),
]


def vocabulary() -> list[str]:
    """The words of the project's own sample articles, most frequent first."""
    counts: dict[str, int] = {}
    for path in SAMPLES:
        for word in re.findall(r"[^\W\d_]+", path.read_text("utf-8")):
            counts[word.lower()] = counts.get(word.lower(), 0) + 1
    return sorted(counts, key=lambda w: -counts[w])


def boilerplate(rng: random.Random, words: list[str], links: int) -> str:
    """A block of navigation links, as a site's header, sidebar or footer has them."""
    return "".join(
        f"<li><a href='/{rng.choice(words)}/{rng.randrange(10**6)}'>"
        f"{' '.join(rng.choice(words) for _ in range(rng.randint(2, 6)))}</a></li>"
        for _ in range(links)
    )


def sentence(rng: random.Random, topic: list[str], common: list[str], facts: list[str]) -> str:
    """A sentence of an article: its topic words among common ones, and a name or figure."""
    words = [
        rng.choice(topic) if rng.random() < 0.35 else rng.choice(common)
        for _ in range(rng.randint(8, 24))
    ]
    words[rng.randrange(len(words))] = rng.choice(facts)
    return " ".join(words).capitalize() + "."


def make_pages(
    folder: Path,
    count: int,
    near_share: float,
    seed: int = 11,
    *,
    small: bool = False,
    heavy_share: float = 0.0,
) -> list[str]:
    """COUNT pages in FOLDER; a NEAR_SHARE of them are lightly edited copies of earlier ones
    under another site's template. Each original article has its own topic words, names and
    figures, so that articles do not resemble each other more than real news does; each
    page carries a few hundred links of site chrome, as real pages do. A HEAVY_SHARE of the
    pages (every page when 1) are heavy pages (benchmarks/heavypages.py). Returns the names."""
    rng = random.Random(seed)
    links = (25, 12, 16) if small else (250, 120, 160)
    vocab = vocabulary()
    common, rare = vocab[:300], vocab[300:]
    bodies: list[tuple[str, list[str]]] = []
    paths = []
    folder.mkdir(parents=True, exist_ok=True)
    # Every n-th page is heavy: the shares are exact on any count, and the same page
    # numbers are heavy whatever the seed.
    every = round(1 / heavy_share) if heavy_share > 0 else 0
    for index in range(count):
        if bodies and rng.random() < near_share:
            title, paragraphs = bodies[rng.randrange(len(bodies))]
            paragraphs = [*paragraphs]
            paragraphs[rng.randrange(len(paragraphs))] += " Updated with new details."
        else:
            topic = rng.sample(rare, 25)
            names = [
                f"{rng.choice(rare).capitalize()}{rng.choice(['son', 'ville', 'berg', 'ez'])}"
                for _ in range(4)
            ]
            figures = [str(rng.randrange(10, 100_000)) for _ in range(4)]

            target = rng.randint(100, 300) if small else rng.randint(150, 1200)
            paragraphs, total = [], 0
            while total < target:
                paragraph = " ".join(
                    sentence(rng, topic, common, names + figures) for _ in range(rng.randint(2, 5))
                )
                paragraphs.append(paragraph)
                total += len(paragraph.split())
            title = f"{names[0]} {' '.join(rng.sample(topic, 6))}"
        bodies.append((title, paragraphs))
        day = 1 + index % 28
        if every and index % every == 0:
            html = heavy_page(rng, index, title, paragraphs, day, common)
        else:
            html = light_page(index, title, paragraphs, day, common, links)
        name = f"p{index:06d}.html"
        (folder / name).write_text(html, "utf-8")
        paths.append(name)
    return paths


def light_page(
    index: int,
    title: str,
    paragraphs: list[str],
    day: int,
    common: list[str],
    links: tuple[int, int, int],
) -> str:
    site, header, aside, footer = TEMPLATES[index % len(TEMPLATES)]
    # Each site's chrome is the same on every page.
    chrome = random.Random(index % len(TEMPLATES))
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title} | {site}</title>"
        f"<meta property='og:type' content='article'><meta property='og:site_name' content='{site}'>"
        f"<meta property='article:published_time' content='2026-10-{day:02d}T08:00:00+00:00'>"
        f"<style>{'.c{margin:0 auto;padding:4px}' * 40}</style>"
        f"<script>{'window.dataLayer=window.dataLayer||[];' * 60}</script>"
        f"</head><body>{header}<ul class='menu'>{boilerplate(chrome, common, links[0])}</ul>"
        f"<main><article><h1>{title}</h1>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + f"</article>{aside}<ul class='more'>{boilerplate(chrome, common, links[1])}</ul>"
        f"</main>{footer}<ul class='sitemap'>{boilerplate(chrome, common, links[2])}</ul>"
        "</body></html>"
    )

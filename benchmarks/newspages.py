"""Generated news pages for the benchmarks: articles with their own topic words, names and
figures, in site templates.

Two shapes of page:
- light: a site's chrome of a few hundred links around the article, about 20 to 40 KB;
- heavy (HEAVY_SITES): shaped like the pages that news sites serve today, 50 to 200 KB: a
  head of meta tags, stylesheets and JSON-LD, a state script that carries the article
  again as JSON (as server-rendered front ends do), analytics and advertising scripts, a
  consent banner, a mega-menu, ad slots and "read also" boxes inside the article, share
  buttons and tags, a related-articles block, a newsletter form, a comment section, a
  most-read list and a long footer.

Everything here is made up; the words come from the project's own sample articles.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

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
    pages (every page when 1) are heavy pages (HEAVY_SITES). Returns the names."""
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


# (name, domain, language, section names): the heavy templates' sites.
HEAVY_SITES = (
    ("Metro Ledger", "metroledger.example", "en", ("World", "Business", "Tech", "Sport")),
    ("La Gazette du Val", "gazetteduval.example", "fr", ("Monde", "Économie", "Tech", "Sport")),
    ("Harbour Times", "harbourtimes.example", "en", ("Local", "Politics", "Culture", "Opinion")),
)


def heavy_page(
    rng: random.Random,
    index: int,
    title: str,
    paragraphs: list[str],
    day: int,
    common: list[str],
) -> str:
    """A page shaped like a news site's article page today (module docstring), 50-200 KB."""
    number = index % len(HEAVY_SITES)
    site, domain, language, sections = HEAVY_SITES[number]
    chrome = random.Random(1000 + number)  # the site's own chrome: the same on every page
    base = f"https://www.{domain}"
    slug = "-".join(re.findall(r"\w+", title.lower())[:8])
    url = f"{base}/{sections[index % 4].lower()}/2026/10/{day:02d}/{slug}-{index}"
    author = " ".join(w.capitalize() for w in rng.sample(common, 2))
    published = f"2026-10-{day:02d}T{6 + index % 12:02d}:{index % 60:02d}:00+00:00"
    summary = paragraphs[0][:180]
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
        "description": summary,
        "datePublished": published,
        "dateModified": published,
        "author": [{"@type": "Person", "name": author, "url": f"{base}/authors/{index % 40}"}],
        "publisher": {
            "@type": "Organization",
            "name": site,
            "logo": {"@type": "ImageObject", "url": f"{base}/static/logo.png"},
        },
        "image": [f"{base}/images/{index}/{size}.jpg" for size in ("1x1", "4x3", "16x9")],
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "articleSection": sections[index % 4],
        "inLanguage": language,
    }
    breadcrumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": site, "item": base},
            {"@type": "ListItem", "position": 2, "name": sections[index % 4], "item": url},
        ],
    }
    teasers = [_teaser(rng, common, base, sections) for _ in range(rng.randint(8, 16))]
    # Server-rendered front ends send the page's data again, the article's text included.
    state = {
        "page": {"type": "article", "id": index, "url": url, "section": sections[index % 4]},
        "article": {
            "title": title,
            "author": author,
            "published": published,
            "body": [{"type": "paragraph", "text": p} for p in paragraphs],
        },
        "related": teasers,
        "ads": {"slots": [f"mid-{n}" for n in range(6)], "targeting": rng.sample(common, 20)},
    }
    head = (
        f"<!DOCTYPE html><html lang='{language}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title} | {site}</title><meta name='description' content='{_attr(summary)}'>"
        f"<link rel='canonical' href='{url}'>"
        + "".join(
            f"<meta property='{name}' content='{_attr(value)}'>"
            for name, value in (
                ("og:type", "article"),
                ("og:title", title),
                ("og:url", url),
                ("og:site_name", site),
                ("og:description", summary),
                ("og:image", f"{base}/images/{index}/16x9.jpg"),
                ("article:published_time", published),
                ("article:author", author),
                ("article:section", sections[index % 4]),
                ("twitter:card", "summary_large_image"),
                ("twitter:title", title),
            )
        )
        + "".join(
            f"<link rel='stylesheet' href='{base}/static/css/{name}.{chrome.randrange(16**8):08x}.css'>"
            for name in ("base", "article", "ads")
        )
        + f"<style>{_css(chrome, rng.randint(100, 900))}</style>"
        + f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
        + f"<script type='application/ld+json'>{json.dumps(breadcrumbs)}</script>"
        + f"<script>{_script(chrome, rng.randint(40, 900))}</script></head>"
    )
    menu = "".join(
        f"<li class='menu-section'><div class='menu-item'><a href='{base}/{section.lower()}'>"
        f"<span>{section}</span></a></div><div class='submenu'><ul>"
        + _links(chrome, common, base, chrome.randint(20, 50))
        + "</ul></div></li>"
        for section in sections
    )
    header = (
        "<div id='consent' class='cmp-banner'><p>We and our partners use cookies to store and"
        " access information on your device.</p><button>Accept all</button><button>Settings"
        "</button></div>"
        f"<header class='site-header'><a class='logo' href='{base}/'>{site}</a>"
        "<form class='search' action='/search'><input name='q' type='search'>"
        f"<button>Search</button></form><nav><ul class='mega-menu'>{menu}</ul></nav></header>"
        f"<div class='ticker'><span>Breaking</span>{_links(rng, common, base, 5)}</div>"
        f"<ol class='breadcrumbs'><li><a href='{base}/'>{site}</a></li>"
        f"<li><a href='{base}/{sections[index % 4].lower()}'>{sections[index % 4]}</a></li></ol>"
    )
    body = []
    for number_, paragraph in enumerate(paragraphs):
        body.append(_nest(("block", "block-text", "rich-text"), f"<p>{paragraph}</p>"))
        if number_ % 3 == 2:
            body.append(
                _nest(
                    ("block", "block-ad", "ad-container", f"ad-slot' id='mid-{number_}"),
                    f"<span>Advertisement</span><script>{_script(rng, 2)}</script>",
                )
            )
        if number_ == 7:
            body.append(
                "<blockquote class='social-post'><p>"
                + " ".join(rng.choice(common) for _ in range(20)).capitalize()
                + f"</p>— {author} (@{slug[:12]}) <a href='https://x.example/s/{index}'>"
                f"October {day}, 2026</a></blockquote>"
                + _nest(
                    ("block", "video-player", "player-wrapper"),
                    f"<video data-id='{index}' data-ads='preroll'></video><p class='caption'>"
                    f"{' '.join(rng.sample(common, 7)).capitalize()}</p>",
                )
            )
        if number_ == 4:
            body.append(
                "<aside class='read-also'><strong>Read also</strong>"
                f"<ul>{''.join(_teaser_html(t) for t in teasers[:2])}</ul></aside>"
            )
    article = (
        f"<article><header><p class='kicker'>{sections[index % 4]}</p><h1>{title}</h1>"
        f"<p class='standfirst'>{summary}</p><div class='byline'>By <a rel='author' "
        f"href='{base}/authors/{index % 40}'>{author}</a> <time datetime='{published}'>"
        f"{day} October 2026</time></div></header>"
        f"<figure><img src='{base}/images/{index}/16x9.jpg' alt='{_attr(title)}'>"
        f"<figcaption>{' '.join(rng.sample(common, 9)).capitalize()}. Photo: {author}"
        f"</figcaption></figure><div class='article-body'>{''.join(body)}</div>"
        "<div class='share'>"
        + "".join(
            f"<a href='https://{n}.example/share?u={url}'>{n}</a>"
            for n in ("facebook", "x", "linkedin", "whatsapp", "email")
        )
        + "</div><ul class='tags'>"
        + "".join(f"<li><a href='{base}/tag/{w}'>{w}</a></li>" for w in rng.sample(common, 6))
        + "</ul></article>"
    )
    related = (
        "<section class='related'><h2>More on this topic</h2><ul>"
        + "".join(_teaser_html(t) for t in teasers)
        + "</ul></section><section class='newsletter'><h2>Our morning briefing</h2><form>"
        "<input type='email' name='email'><button>Sign up</button></form></section>"
    )
    comments = "".join(
        f"<li class='comment' id='c{index}-{n}'><div class='comment-inner'>"
        f"<div class='comment-meta'><div class='avatar'><img src='{base}/avatars/{n}.png' "
        f"alt=''></div><div class='comment-author'>{rng.choice(common).capitalize()}"
        f"{rng.randrange(100)}</div><time>{n + 1} hours ago</time></div>"
        f"<div class='comment-body'><p>"
        f"{' '.join(rng.choice(common) for _ in range(rng.randint(8, 60))).capitalize()}"
        ".</p></div><div class='comment-actions'><button>Reply</button><button>Like</button>"
        "</div></div></li>"
        for n in range(rng.randint(3, 40))
    )
    discussion = (
        f"<section id='comments' class='comments'><h2>Comments</h2><ol>{comments}</ol>"
        "<form class='comment-form'><textarea name='comment'></textarea><button>Post"
        "</button></form></section>"
    )
    aside = (
        f"<aside class='most-read'><h2>Most read</h2><ol>"
        f"{''.join(_teaser_html(_teaser(rng, common, base, sections)) for _ in range(10))}"
        "</ol></aside>"
    )
    footer = (
        "<footer class='site-footer'>"
        + "".join(
            f"<div class='footer-column'><h3>{section}</h3><ul>"
            + _links(chrome, common, base, chrome.randint(15, 30))
            + "</ul></div>"
            for section in sections
        )
        + f"<p class='legal'>© 2026 {site}. All rights reserved. Reproduction without"
        " permission is prohibited.</p></footer>"
        + f"<script id='state' type='application/json'>{json.dumps(state)}</script>"
        + "".join(
            f"<script src='{base}/static/js/{name}.{chrome.randrange(16**8):08x}.js' async>"
            "</script>"
            for name in ("vendor", "main", "ads", "comments")
        )
        + f"<script>{_script(rng, rng.randint(20, 80))}</script>"
    )
    columns = _nest(("col-main",), article + related + discussion) + _nest(
        ("col-side", "sticky"), aside
    )
    return (
        f"{head}<body class='article-page'><div id='app'>{header}<main>"
        f"{_nest(('layout', 'container', 'row'), columns)}</main>{footer}</div></body></html>"
    )


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace("'", "&#39;")


def _links(rng: random.Random, words: list[str], base: str, count: int) -> str:
    return "".join(
        f"<li><a href='{base}/{rng.choice(words)}/{rng.randrange(10**6)}'>"
        f"{' '.join(rng.choice(words) for _ in range(rng.randint(1, 4))).capitalize()}</a></li>"
        for _ in range(count)
    )


def _teaser(
    rng: random.Random, words: list[str], base: str, sections: tuple[str, ...]
) -> dict[str, str]:
    headline = " ".join(rng.choice(words) for _ in range(rng.randint(6, 12))).capitalize()
    return {
        "headline": headline,
        "url": f"{base}/{rng.choice(sections).lower()}/{rng.randrange(10**7)}",
        "summary": " ".join(rng.choice(words) for _ in range(rng.randint(15, 30))).capitalize(),
        "image": f"{base}/images/{rng.randrange(10**6)}/4x3.jpg",
    }


def _teaser_html(teaser: dict[str, str]) -> str:
    media = _nest(
        ("card-media", "ratio-4x3"),
        f"<a href='{teaser['url']}'><picture><source srcset='{teaser['image']}'>"
        f"<img src='{teaser['image']}' alt='' loading='lazy'></picture></a>",
    )
    text = _nest(
        ("card-body", "card-text"),
        f"<h3 class='card-title'><a href='{teaser['url']}'>{teaser['headline']}</a></h3>"
        f"<p>{teaser['summary']}.</p>",
    )
    return f"<li class='teaser'>{_nest(('card', 'card-inner'), media + text)}</li>"


def _nest(classes: tuple[str, ...], inner: str) -> str:
    """INNER in one div per class, outermost first, as page builders wrap every block."""
    return "".join(f"<div class='{c}'>" for c in classes) + inner + "</div>" * len(classes)


def _css(rng: random.Random, rules: int) -> str:
    return "".join(
        f".{rng.choice('abcdefgh')}{rng.randrange(10**4)}{{margin:{rng.randrange(24)}px auto;"
        f"padding:{rng.randrange(16)}px;color:#{rng.randrange(16**6):06x};"
        f"font-size:{rng.randrange(10, 32)}px}}"
        for _ in range(rules)
    )


def _script(rng: random.Random, statements: int) -> str:
    """Minified-looking JavaScript: an analytics queue, configuration and handlers."""
    parts = ["window.dataLayer=window.dataLayer||[];"]
    for _ in range(statements):
        name = f"_{rng.randrange(16**4):04x}"
        parts.append(
            rng.choice(
                (
                    f"var {name}=function(e,t){{return e&&t?e.concat(t):[]}};",
                    f"window.dataLayer.push({{event:'{name}',value:{rng.randrange(10**4)}}});",
                    f"document.addEventListener('scroll',function(){{{name}({rng.randrange(99)})}});",
                    f"var {name}={{slot:'mid-{rng.randrange(9)}',sizes:[[300,250],[728,90]],"
                    f"lazy:!0,refresh:{rng.randrange(60)}}};",
                )
            )
        )
    return "".join(parts)

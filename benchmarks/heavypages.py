"""Heavy generated news pages: shaped like the pages that news sites serve today, 80 to 200
KB, for the benchmarks (benchmarks/newspages.py mixes them in). A page has a head of meta
tags, stylesheets and JSON-LD, a state script that carries the article again as JSON (as
server-rendered front ends do), analytics and advertising scripts, a consent banner, a
mega-menu, the article in nested blocks with ad slots, a "read also" box, an embedded post
and a video player, share buttons and tags, a related-articles block, a newsletter form, a
comment section, a most-read list and a long footer. Everything here is made up.
"""

from __future__ import annotations

import json
import random
import re

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
            f"<link rel='stylesheet' href='{base}/static/css/{name}."
            f"{chrome.randrange(16**8):08x}.css'>"
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

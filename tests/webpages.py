"""Pages, feeds and sitemaps shaped as publishers serve them, written by the tests into a
folder that tests/static_site.py serves. Article texts come from samples/."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "news"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.txt"))
# The story samples too, for the tests that need many distinct articles.
STORIES = SAMPLES.parent / "stories"
EVERY_NAME = NAMES + sorted(p.stem for p in STORIES.glob("*.txt"))


def sample(name: str) -> tuple[str, list[str]]:
    path = SAMPLES / f"{name}.txt"
    if not path.exists():
        path = STORIES / f"{name}.txt"
    lines = [ln for ln in path.read_text("utf-8").splitlines() if ln]
    return lines[0], lines[1:]


def article(
    name: str,
    *,
    og_type: str | None = "article",
    schema: str | None = None,
    date: str | None = "2026-10-01",
    canonical: str | None = None,
    body: list[str] | None = None,
) -> str:
    """An article page of a news site: header menu, the article, a related box, a footer."""
    title, paragraphs = sample(name)
    paragraphs = body if body is not None else paragraphs
    esc = html.escape
    head = [f"<title>{esc(title)} | The Valley Courier</title>"]
    if og_type:
        head.append(f'<meta property="og:type" content="{og_type}">')
    if date:
        head.append(f'<meta property="article:published_time" content="{date}T08:00:00+00:00">')
    if canonical:
        head.append(f'<link rel="canonical" href="{esc(canonical)}">')
    if schema:
        data = {"@context": "https://schema.org", "@type": schema, "headline": title}
        head.append(f'<script type="application/ld+json">{json.dumps(data)}</script>')
    menu = "".join(f'<a href="/{s}/">{s.title()}</a> ' for s in ("news", "sport", "culture"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{"".join(head)}</head><body>
<header><nav>{menu}</nav></header>
<main><article><h1>{esc(title)}</h1>
{"".join(f"<p>{esc(p)}</p>" for p in paragraphs)}
</article></main>
<footer><p>The Valley Courier, 12 Mill Street.</p></footer>
</body></html>"""


def front(
    links: dict[str, str], *, og_type: str | None = "website", schema: str | None = None
) -> str:
    """A section front or tag page: a list of teasers, each a headline link and a line."""
    esc = html.escape
    head = f'<meta property="og:type" content="{og_type}">' if og_type else ""
    if schema:
        head += f'<script type="application/ld+json">{json.dumps({"@type": schema})}</script>'
    teasers = "".join(
        f'<div class="teaser"><h2><a href="{esc(url)}">{esc(title)}</a></h2>'
        f"<p>{esc(title.split(' ', 3)[-1])}</p></div>"
        for url, title in links.items()
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Latest news | The Valley Courier</title>{head}</head>
<body><header><a href="/">Home</a></header>
<main><h1>Latest news</h1>{teasers}</main></body></html>"""


def rss(items: list[str], *, extra: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>The Valley Courier</title><link>http://example.org/</link>{extra}"
        f"{''.join(items)}</channel></rss>"
    )


def rss_item(
    title: str,
    *,
    link: str | None = None,
    guid: str | None = None,
    permalink: str | None = None,
    date: str | None = None,
) -> str:
    parts = [f"<title>{html.escape(title)}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        attribute = f' isPermaLink="{permalink}"' if permalink is not None else ""
        parts.append(f"<guid{attribute}>{guid}</guid>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    return f"<item>{''.join(parts)}</item>"


def atom(entries: list[str], *, base: str | None = None) -> str:
    attribute = f' xml:base="{base}"' if base else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{attribute}><title>Courier</title>'
        f"<id>urn:courier</id><updated>2026-10-09T00:00:00Z</updated>{''.join(entries)}</feed>"
    )


def atom_entry(
    title: str,
    *,
    links: dict[str, str] | None = None,
    ident: str = "urn:x",
    updated: str = "2026-10-09T00:00:00Z",
) -> str:
    tags = "".join(f'<link rel="{rel}" href="{href}"/>' for rel, href in (links or {}).items())
    return (
        f"<entry><title>{html.escape(title)}</title>{tags}<id>{ident}</id>"
        f"<updated>{updated}</updated></entry>"
    )


def urlset(
    entries: Sequence[tuple[str, str | None]], *, news: dict[str, tuple[str, str]] | None = None
) -> str:
    """A sitemap of (loc, lastmod); NEWS gives some locs a news block (date, title)."""
    rows = []
    for loc, lastmod in entries:
        row = f"<loc>{loc}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
        if news and loc in news:
            date, title = news[loc]
            row += (
                "<news:news><news:publication><news:name>Courier</news:name>"
                "<news:language>en</news:language></news:publication>"
                f"<news:publication_date>{date}</news:publication_date>"
                f"<news:title>{html.escape(title)}</news:title></news:news>"
            )
        rows.append(f"<url>{row}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"{''.join(rows)}</urlset>"
    )


def sitemap_index(locs: list[str]) -> str:
    rows = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</sitemapindex>'
    )


class Www:
    """The folder a static_site serves, and its routes."""

    def __init__(self, log: Path) -> None:
        self.root = log.parent / "www"
        self.routes_file = log.parent / "routes.json"
        self.root.mkdir(parents=True, exist_ok=True)
        self.routes: dict[str, dict[str, object]] = {}

    def put(self, path: str, content: str, **route: object) -> None:
        target = self.root / path.lstrip("/")
        if path.endswith("/"):
            target = target / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, "utf-8")
        if route:
            self.route(path, **route)

    def route(self, path: str, **route: object) -> None:
        self.routes[path] = route
        self.routes_file.write_text(json.dumps(self.routes))

    def unroute(self, path: str) -> None:
        self.routes.pop(path, None)
        self.routes_file.write_text(json.dumps(self.routes))

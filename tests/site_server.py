"""A small news site for the crawl tests: a real HTTP server process on a loopback port.

    python tests/site_server.py LOGFILE

prints the port it listens on, then serves until killed, appending "HOST PATH" to LOGFILE
for every request. The site is reachable as 127.0.0.1 (the publisher) and as localhost
(a partner that syndicates one article); the tests run a second process for the partner, so
that it has a port of its own. Article texts come from samples/news.
"""

from __future__ import annotations

import hashlib
import html
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "news"

# path → (sample file, publication date, language)
ARTICLES = {
    "/news/tram-extension.html": ("en-tram-extension", "2026-10-01", "en"),
    "/news/chip-plant.html": ("en-chip-plant", "2026-10-02", "en"),
    "/news/heatwave.html": ("en-heatwave", "2026-10-03", "en"),
    "/fr/greve-ter.html": ("fr-greve-ter", "2026-10-04", "fr"),
    "/fr/vendanges.html": ("fr-vendanges", "2026-10-05", "fr"),
    "/fr/crue.html": ("fr-crue", "2026-10-06", "fr"),
}
# Added to the sitemap and the feeds, dated now, when the file "late" exists beside the log.
LATE = {"/news/library.html": ("en-library", "", "en")}
LABELS = {
    "en": ("Home", "News", "Related articles", "Leave a comment", "All rights reserved."),
    "fr": (
        "Accueil",
        "Actualités",
        "Articles connexes",
        "Laisser un commentaire",
        "Tous droits réservés.",
    ),
}


def sample(name: str) -> tuple[str, list[str]]:
    lines = [ln for ln in (SAMPLES / f"{name}.txt").read_text("utf-8").splitlines() if ln]
    return lines[0], lines[1:]


def page(
    path: str,
    name: str,
    date: str,
    lang: str,
    *,
    canonical: str | None = None,
    site: str = "The Valley Courier",
    charset: bool = True,
) -> str:
    title, paragraphs = sample(name)
    home, section, related, comment, rights = LABELS[lang]
    esc = html.escape
    others = [p for p in ARTICLES if p != path][:3]
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head>{'<meta charset="utf-8">' if charset else ""}
<title>{esc(title)} | {esc(site)}</title>
<meta property="og:type" content="article">
<meta property="og:site_name" content="{esc(site)}">
<meta name="author" content="Desk Reporter">
<meta property="article:published_time" content="{date}T08:00:00+00:00">
{f'<link rel="canonical" href="{canonical}">' if canonical else ""}
</head><body>
<header><a href="/">{home}</a> <nav><a href="/">{section}</a> <a href="/private/admin.html">Admin</a></nav></header>
<main><article><h1>{esc(title)}</h1>
{"".join(f"<p>{esc(p)}</p>" for p in paragraphs)}
</article>
<aside><h2>{related}</h2><ul>{"".join(f'<li><a href="{o}">{esc(sample(ARTICLES[o][0])[0])}</a></li>' for o in others)}</ul></aside>
<section id="comments"><h2>{comment}</h2><form><textarea></textarea></form></section>
</main><footer>© {esc(site)}. {rights}</footer></body></html>"""


class Site(BaseHTTPRequestHandler):
    log_path: Path
    flaky_seen: set[str]
    lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:  # quiet on stderr
        pass

    def articles(self) -> dict[str, tuple[str, str, str]]:
        late = self.log_path.parent / "late"
        if not late.exists():
            return ARTICLES
        published = datetime.fromtimestamp(late.stat().st_mtime, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S+00:00"
        )
        return {**ARTICLES, **{p: (n, published, lang) for p, (n, _d, lang) in LATE.items()}}

    def send_listing(self, body: str, content_type: str) -> None:
        """Sitemaps and feeds carry an ETag and answer If-None-Match with a 304."""
        etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send(200, body, content_type, headers={"ETag": etag})

    def send(
        self,
        status: int,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def record(self) -> str:
        """Log the request as "HOST PATH"; return the host it was made to."""
        host = (self.headers.get("Host") or "").split(":")[0]
        with self.lock, self.log_path.open("a") as log:
            log.write(f"{host} {self.path}\n")
        return host

    def do_GET(self) -> None:
        host = self.record()
        path = self.path.split("?")[0]
        base = f"http://127.0.0.1:{cast(ThreadingHTTPServer, self.server).server_port}"
        articles = self.articles()
        if host == "localhost":
            if path == "/partner/tram.html":
                return self.send(
                    200, page(path, "en-tram-extension", "2026-10-01", "en", site="Partner Wire")
                )
            if path == "/":
                return self.send(
                    200, '<html><body><a href="/partner/tram.html">Tram</a></body></html>'
                )
            return self.send(404, "not found")
        if path == "/robots.txt":
            return self.send(
                200,
                f"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap_index.xml\n",
                "text/plain",
            )
        if path == "/sitemap_index.xml":
            return self.send_listing(sitemap_index(base, articles), "application/xml")
        if path in ("/sitemap-en.xml", "/sitemap-fr.xml"):
            prefix = "/news/" if path.endswith("en.xml") else "/fr/"
            extra = (
                [
                    "/redirected",
                    "/missing.html",
                    "/flaky.html",
                    "/report.pdf",
                    "/big.html",
                    "/legacy.html",
                    "/news/chip-plant-amp.html",
                    "/latin1.html",
                    "/broken.html",
                ]
                if prefix == "/news/"
                else []
            )
            return self.send_listing(urlset(base, articles, prefix, extra), "application/xml")
        if path == "/rss.xml":
            return self.send_listing(rss(base, articles), "application/rss+xml")
        if path == "/atom.xml":
            return self.send_listing(atom(base, articles), "application/atom+xml")
        if path in articles:
            name, date, lang = articles[path]
            return self.send(200, page(path, name, date[:10], lang))
        if path == "/news/chip-plant-amp.html":
            # The same article under a second URL, which names the first as canonical.
            name, date, lang = ARTICLES["/news/chip-plant.html"]
            return self.send(
                200,
                page(
                    path, name, date, lang, canonical=f"{base}/news/chip-plant.html?utm_source=amp"
                ),
            )
        if path == "/redirected":
            return self.send(301, "", headers={"Location": "/news/heatwave.html"})
        if path == "/flaky.html":
            with self.lock:
                first = path not in self.flaky_seen
                self.flaky_seen.add(path)
            if first:
                return self.send(500, "try again")
            return self.send(200, page(path, "fr-levee-fonds", "2026-10-07", "fr"))
        if path == "/report.pdf":
            return self.send(
                200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "application/pdf"
            )
        if path == "/big.html":
            return self.send(200, "<html><body>" + "<p>filler</p>" * 200_000 + "</body></html>")
        if path == "/latin1.html":
            # ISO-8859-1, declared in the HTTP header only.
            body = page(path, "fr-levee-fonds-2", "2026-10-08", "fr", charset=False)
            return self.send(
                200, body.encode("latin-1", errors="replace"), "text/html; charset=iso-8859-1"
            )
        if path == "/broken.html":
            return self.send(503, "down for maintenance")
        if path == "/legacy.html":
            # Windows-1252, declared nowhere.
            body = page(path, "fr-crue-decrue", "2026-10-08", "fr", charset=False)
            return self.send(200, body.encode("cp1252"), "text/html")
        if path == "/":
            links = "".join(f'<a href="{p}">{p}</a> ' for p in articles)
            return self.send(200, f"<html><body><h1>Front</h1>{links}</body></html>")
        return self.send(404, "not found")


def sitemap_index(base: str, articles: dict[str, tuple[str, str, str]]) -> str:
    newest = {
        lang: max(d for p, (_n, d, _l) in articles.items() if p.startswith(prefix))
        for lang, prefix in (("en", "/news/"), ("fr", "/fr/"))
    }
    entries = "".join(
        f"<sitemap><loc>{base}/sitemap-{lang}.xml</loc><lastmod>{newest[lang]}</lastmod></sitemap>"
        for lang in ("en", "fr")
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


def urlset(
    base: str, articles: dict[str, tuple[str, str, str]], prefix: str, extra: list[str]
) -> str:
    urls = [(p, d) for p, (_n, d, _l) in articles.items() if p.startswith(prefix)]
    urls += [(p, "2026-10-01") for p in extra]
    body = "".join(f"<url><loc>{base}{p}</loc><lastmod>{d}</lastmod></url>" for p, d in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'


def rss(base: str, articles: dict[str, tuple[str, str, str]]) -> str:
    items = "".join(
        f"<item><title>{html.escape(sample(n)[0])}</title><link>{base}{p}?utm_source=rss</link>"
        f"<pubDate>{d}</pubDate></item>"
        for p, (n, d, _l) in articles.items()
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Courier</title>{items}</channel></rss>'


def atom(base: str, articles: dict[str, tuple[str, str, str]]) -> str:
    entries = "".join(
        f'<entry><title>{html.escape(sample(n)[0])}</title><link rel="alternate" href="{base}{p}#top"/>'
        f"<updated>{d}T08:00:00Z</updated><id>{p}</id></entry>"
        for p, (n, d, _l) in articles.items()
        if p.startswith("/fr/")
    )
    return f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Courier FR</title>{entries}</feed>'


def main() -> None:
    Site.log_path = Path(sys.argv[1])
    Site.flaky_seen = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

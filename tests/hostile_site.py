"""A hostile web server for the robustness tests: a real HTTP server process on loopback.

    python tests/hostile_site.py LOGFILE

prints its port, then serves until killed, appending "HOST PATH" to LOGFILE for every
request. Beside the attacks it serves good articles under /good/, so that each test can
check that they are stored all the same. A file "secret.txt" beside the log holds a marker
that an XML external entity would leak, if one were ever resolved.
"""

from __future__ import annotations

import gzip
import sys
import time
import zlib
from functools import cache
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import cast

if __package__:  # imported by the tests
    from tests.site_server import ARTICLES, Site, page
else:  # run as a script, from tests/
    from site_server import ARTICLES, Site, page  # type: ignore[no-redef]

SECRET = "LEAKEDSECRET"
# /good/<name>.html for every sample article the publisher site serves.
GOOD = {f"/good/{name}.html": (name, date, lang) for name, date, lang in ARTICLES.values()}
BOMB_BYTES = 256 * 1024 * 1024
HUGE_SITEMAP_URLS = 1_000_000

# "Billion laughs": each entity is ten of the one before; &lol9; would be 10⁹ "lol"s.
LAUGHS_DTD = (
    '<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)


@cache
def gzip_bomb() -> bytes:
    """BOMB_BYTES of zeros, gzipped to about a thousandth of that."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))]
    return b"".join([*parts, compressor.flush()])


@cache
def huge_sitemap(base: str) -> bytes:
    urls = "".join(f"<url><loc>{base}/n/{i}</loc></url>" for i in range(HUGE_SITEMAP_URLS))
    return f'<?xml version="1.0"?><urlset>{urls}</urlset>'.encode()


# A sitemap index of FANOUT_SITEMAPS sitemaps of FANOUT_URLS URLs each.
FANOUT_SITEMAPS = 10
FANOUT_URLS = 50_000


@cache
def fanout_sitemap(base: str, number: int) -> bytes:
    urls = "".join(f"<url><loc>{base}/n/{number}-{i}</loc></url>" for i in range(FANOUT_URLS))
    return f'<?xml version="1.0"?><urlset>{urls}</urlset>'.encode()


def urlset(*locs: str, dtd: str = "") -> str:
    body = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<?xml version="1.0"?>{dtd}<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'


def rss(*items: str, dtd: str = "") -> str:
    return f'<?xml version="1.0"?>{dtd}<rss version="2.0"><channel><title>Wire</title>{"".join(items)}</channel></rss>'


def item(link: str, title: str = "Story") -> str:
    return f"<item><title>{title}</title><link>{link}</link></item>"


class Hostile(Site):
    """The publisher's handler (request log, send) with other pages."""

    protocol_version = "HTTP/1.1"

    def redirect(self, location: str) -> None:
        self.send(302, "", headers={"Location": location})

    def do_GET(self) -> None:
        self.record()
        base = f"http://127.0.0.1:{cast(ThreadingHTTPServer, self.server).server_port}"
        secret = self.log_path.parent / "secret.txt"
        path = self.path.split("?")[0]
        good = list(GOOD)
        xml = "application/xml"
        xxe = (
            f'<!DOCTYPE x [<!ENTITY file SYSTEM "file://{secret}">'
            f'<!ENTITY net SYSTEM "{base}/xxe-probe">]>'
        )
        if path == "/robots.txt":
            return self.send(200, "User-agent: *\nAllow: /\n", "text/plain")
        if path == "/list.xml":  # /list.xml?/a.html&/b.html: a sitemap of those paths
            return self.send(
                200, urlset(*(base + p for p in self.path.split("?", 1)[1].split("&"))), xml
            )
        if path in GOOD:
            name, date, lang = GOOD[path]
            return self.send(200, page(path, name, date, lang))

        # -- XML attacks: the good entry beside each must still be read.
        if path == "/laughs-sitemap.xml":
            return self.send(200, urlset(f"{base}/&lol9;", f"{base}{good[0]}", dtd=LAUGHS_DTD), xml)
        if path in ("/late-laughs-sitemap.xml", "/late-laughs-feed.xml"):
            # The same attack behind a 5 KB comment: the DOCTYPE may come that late.
            late = "<!--" + "a long comment " * 350 + "-->"
            listing = (
                urlset(f"{base}/&lol9;", f"{base}{good[0]}", dtd=late + LAUGHS_DTD)
                if "sitemap" in path
                else rss(
                    item(f"{base}/&lol9;", "&lol9;"),
                    item(f"{base}{good[1]}"),
                    dtd=late + LAUGHS_DTD,
                )
            )
            return self.send(200, listing, xml)
        if path == "/laughs-feed.xml":
            return self.send(
                200,
                rss(item(f"{base}/&lol9;", "&lol9;"), item(f"{base}{good[1]}"), dtd=LAUGHS_DTD),
                xml,
            )
        if path == "/xxe-sitemap.xml":
            return self.send(
                200, urlset(f"{base}/&file;", f"{base}/&net;", f"{base}{good[2]}", dtd=xxe), xml
            )
        if path == "/xxe-feed.xml":
            return self.send(
                200,
                rss(
                    item(f"{base}/&file;", "&file;"),
                    item(f"{base}/&net;"),
                    item(f"{base}{good[3]}"),
                    dtd=xxe,
                ),
                xml,
            )

        # -- compression bombs
        if path == "/bomb.html":
            return self.send(200, gzip_bomb(), headers={"Content-Encoding": "gzip"})
        if path == "/bomb-sitemap.xml.gz":
            return self.send(200, gzip_bomb(), "application/x-gzip")
        if path == "/corrupt-sitemap.xml.gz":
            return self.send(
                200, gzip.compress(urlset(f"{base}{good[0]}").encode())[:40], "application/x-gzip"
            )

        # -- malformed listings
        if path == "/truncated-feed.xml":
            whole = rss(item(f"{base}{good[4]}"), item(f"{base}{good[5]}"))
            # Cut off inside the second item's link: the first item is whole.
            return self.send(200, whole[: whole.index(good[5]) + 8], xml)
        if path == "/garbage-feed.xml":
            return self.send(200, bytes(range(256)) * 40, "application/rss+xml")
        if path == "/html-feed.xml":
            return self.send(200, "<html><body><p>Not a feed</p></body></html>")
        if path == "/linkless-feed.xml":
            return self.send(
                200, rss("<item><title>No link</title></item>", item(f"{base}{good[0]}")), xml
            )
        if path == "/text-sitemap.xml":
            return self.send(200, "just some words, no XML", "text/plain")
        if path == "/rss-as-sitemap.xml":
            return self.send(200, rss(item(f"{base}{good[0]}")), xml)
        if path == "/huge-sitemap.xml":
            return self.send(200, huge_sitemap(base), xml)
        if path == "/fanout-index.xml":
            maps = "".join(
                f"<sitemap><loc>{base}/fanout/{n}.xml</loc></sitemap>"
                for n in range(FANOUT_SITEMAPS)
            )
            return self.send(200, f"<sitemapindex>{maps}</sitemapindex>", xml)
        if path.startswith("/fanout/"):
            return self.send(200, fanout_sitemap(base, int(path[8:].split(".")[0])), xml)
        if path.startswith("/n/"):
            return self.send(404, "not found")

        # -- links that must not be followed
        hostile_links = [
            "javascript:alert(1)",
            "data:text/html,<p>x</p>",
            "file:///etc/passwd",
            "ftp://127.0.0.1/x.html",
            "http://elsewhere.example/story.html",
        ]
        if path == "/schemes.html":
            anchors = "".join(f'<a href="{link}">x</a> ' for link in [*hostile_links, good[1]])
            return self.send(200, f"<html><body>{anchors}</body></html>")
        if path == "/schemes-sitemap.xml":
            return self.send(200, urlset(*hostile_links, f"{base}{good[2]}"), xml)
        if path == "/schemes-feed.xml":
            return self.send(
                200, rss(*(item(link) for link in [*hostile_links, f"{base}{good[3]}"])), xml
            )
        if path == "/schemes-index.xml":
            entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in hostile_links)
            return self.send(200, f"<sitemapindex>{entries}</sitemapindex>", xml)

        # -- redirects
        if path == "/redirects-sitemap.xml":
            paths = ("/loop-a", "/chain/0", "/to-file", "/to-elsewhere", "/to-good")
            return self.send(200, urlset(*(f"{base}{p}" for p in paths)), xml)
        if path == "/loop-a":
            return self.redirect("/loop-b")
        if path == "/loop-b":
            return self.redirect("/loop-a")
        if path.startswith("/chain/"):
            return self.redirect(f"/chain/{int(path.rsplit('/', 1)[1]) + 1}")
        if path == "/to-file":
            return self.redirect("file:///etc/passwd")
        if path == "/to-elsewhere":
            return self.redirect("http://elsewhere.example/story.html")
        if path == "/to-good":
            return self.redirect(good[4])

        # -- endless listings
        if path.startswith("/page/"):
            n = int(path.rsplit("/", 1)[1])
            return self.send(
                200,
                f'<html><body><a href="/page/{n + 1}">Next</a> <a href="{good[n % len(good)]}">Story</a></body></html>',
            )
        if path.startswith("/sitemap-chain/"):
            n = int(path.rsplit("/", 1)[1])
            return self.send(
                200,
                f"<sitemapindex><sitemap><loc>{base}/sitemap-chain/{n + 1}</loc></sitemap></sitemapindex>",
                xml,
            )

        # -- slow servers
        if path == "/slow-sitemap.xml":
            return self.send(
                200, urlset(f"{base}/drip.html", f"{base}/stall.html", f"{base}{good[5]}"), xml
            )
        if path == "/short-sitemap.xml":
            return self.send(200, urlset(f"{base}/short.html", f"{base}{good[5]}"), xml)
        if path == "/short.html":
            # A Content-Length of 5,000 bytes over a body of 200, then the connection closes.
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"<html><body>" + b"x" * 188)
            self.close_connection = True
            return None
        if path == "/drip.html":
            return self.drip()
        if path == "/stall.html":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            time.sleep(60)
            return None
        return self.send(404, "not found")

    def drip(self) -> None:
        """Headers at once, then one byte of body every fifth of a second for a minute."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "300")
        self.end_headers()
        try:
            for _ in range(300):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass


def main() -> None:
    Hostile.log_path = Path(sys.argv[1])
    (Hostile.log_path.parent / "secret.txt").write_text(SECRET)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

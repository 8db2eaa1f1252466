"""A static web site for the web-source tests: a real HTTP server process on a loopback port.

    python tests/static_site.py LOGFILE

serves the files under LOGFILE's folder's ``www/`` (the test writes them, and may change
them between crawls), prints its port, and appends "HOST PATH" to LOGFILE for every request.
``routes.json`` beside ``www/``, when present, maps a path to what to answer instead of
the plain file: ``{"status": 500}``, ``{"headers": {"Content-Type": "text/html"}}``.
Query strings are logged but do not choose the file.
"""

from __future__ import annotations

import json
import mimetypes
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LOG = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("requests.log")
ROOT = LOG.parent / "www"
ROUTES = LOG.parent / "routes.json"
_log_lock = threading.Lock()

TYPES = {".xml": "application/xml", ".rss": "application/rss+xml", ".txt": "text/plain"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with _log_lock, LOG.open("a") as log:
            log.write(f"{self.headers.get('Host', '').split(':')[0]} {self.path}\n")
        path = unquote(urlsplit(self.path).path)
        routes = json.loads(ROUTES.read_text()) if ROUTES.exists() else {}
        route = routes.get(path, {})
        file = (ROOT / path.lstrip("/")).resolve()
        if file.is_dir():
            file = file / "index.html"
        if ROOT.resolve() not in file.parents or not file.is_file():
            self.answer(route.get("status", 404), b"<html><body>Not found</body></html>", {})
            return
        kind = TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "text/html"
        headers = {"Content-Type": kind, **route.get("headers", {})}
        self.answer(route.get("status", 200), file.read_bytes(), headers)

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        headers = {"Content-Type": "text/html; charset=utf-8", **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A web site whose every answer takes as long as a real publisher's: a folder served over
HTTP on a loopback port, each response held back a random 200-500 ms (or --delay MIN MAX).

    python benchmarks/slow_site.py FOLDER [--delay MIN MAX] [--log FILE]

prints its port, then serves until killed. The fleet benchmark and the fleet tests crawl it:
with that latency a crawl waits on the network, as crawls of the web do, so more processes
fetch more pages a second even on two cores. --log appends "UNIX-TIME PATH USER-AGENT" to FILE
for each request, as it is answered.
"""

from __future__ import annotations

import argparse
import mimetypes
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


def serve(root: Path, delay: tuple[float, float], log: Path | None) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(random.uniform(*delay))
            if log is not None:
                with lock, log.open("a") as out:
                    agent = self.headers.get("User-Agent", "-")
                    out.write(f"{time.time():.3f} {self.path} {agent}\n")
            file = (root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
            if root not in file.parents or not file.is_file():
                self.answer(404, b"<html><body>Not found</body></html>", "text/html")
                return
            kind = mimetypes.guess_type(file.name)[0] or "text/html"
            self.answer(200, file.read_bytes(), kind)

        def answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--delay", nargs=2, type=float, default=(0.2, 0.5))
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    server = serve(args.folder.resolve(), (args.delay[0], args.delay[1]), args.log)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

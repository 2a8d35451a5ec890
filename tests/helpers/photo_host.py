"""A photo host on loopback: a real HTTP server answering fixed paths (the test origin the
safe fetcher may reach in tests, through DUPFINDER_FETCH_TEST_ORIGINS)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class PhotoHost:
    origin: str = ""
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path: (type, body)
    requests: list[str] = field(default_factory=list)

    def add(self, path: str, body: bytes, content_type: str = "image/jpeg") -> str:
        self.files[path] = (content_type, body)
        return self.origin + path


@contextmanager
def photo_host() -> Iterator[PhotoHost]:
    host = PhotoHost()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            host.requests.append(self.path)
            kind, body = host.files.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in host.files else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()

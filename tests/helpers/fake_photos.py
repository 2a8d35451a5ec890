"""A fake of the Google Photos web page on loopback, for the scraper's tests.

The page lays out like Google's: a grid of links to ``./photo/<id>`` labelled "Photo -
<file name> - <w> × <h> - <date>", each with a background-image thumbnail on the content
host (here ``/lh3/<key>=w256-h256-no``). It loads lazily: the page holds a few rows and asks
``/feed`` for more as it is scrolled to the end, and drops rows far above (as Google's
virtualised grid does). Not signed in (no session cookie), ``/`` redirects to
accounts.google.com. ``layout="changed"`` renames the links (no ``/photo/`` any more).
Image addresses answer without the cookie unless ``images_need_session``.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from PIL import Image

SESSION_COOKIE = ("SID", "fake-session-for-tests")


@dataclass
class FakePhoto:
    source_id: str
    data: bytes
    filename: str
    taken: str = "Mar 3, 2021, 10:15:21 AM"

    @property
    def size(self) -> tuple[int, int]:
        with Image.open(io.BytesIO(self.data)) as im:
            return im.size

    @property
    def label(self) -> str:
        w, h = self.size
        return f"Photo - {self.filename} - {w} × {h} - {self.taken}"


@dataclass
class FakePhotos:
    photos: list[FakePhoto]
    layout: str = "normal"
    images_need_session: bool = False
    page_size: int = 8
    origin: str = ""
    image_requests: list[str] = field(default_factory=list)  # paths, with their size suffix

    def storage_state(self, path: Path) -> Path:
        """A Playwright storage-state file signed in to this fake."""
        name, value = SESSION_COOKIE
        cookie = {
            "name": name,
            "value": value,
            "domain": "127.0.0.1",
            "path": "/",
            "expires": -1,
            "httpOnly": True,
            "secure": False,
            "sameSite": "Lax",
        }
        path.write_text(json.dumps({"cookies": [cookie], "origins": []}))
        return path


PAGE = """<!doctype html><html><head><title>Photos</title><style>
body { margin: 0 } .grid { display: flex; flex-wrap: wrap; }
.cell { display: block; width: 45%; height: 400px; margin: 4px; }
.thumb { width: 100%; height: 100%; background-size: cover; }
</style></head><body><div role="main"><div class="grid" id="grid"></div>
<div id="end" style="height: 40px"></div></div><script>
const LINK = "__LINK__";
let offset = 0, loading = false, done = false;
async function more() {
  if (loading || done) return;
  loading = true;
  const r = await fetch("/feed?offset=" + offset);
  const items = await r.json();
  await new Promise(ok => setTimeout(ok, 150));  // lazily
  const grid = document.getElementById("grid");
  for (const it of items) {
    const a = document.createElement("a");
    a.className = "cell"; a.href = "./" + LINK + "/" + it.id;
    a.setAttribute("aria-label", it.label);
    const d = document.createElement("div");
    d.className = "thumb";
    d.setAttribute("style", "background-image: url('" + it.thumb + "')");
    a.appendChild(d); grid.appendChild(a);
  }
  while (grid.children.length > __KEEP__) grid.removeChild(grid.firstChild);  // virtualised
  offset += items.length; done = items.length === 0; loading = false;
  const end = document.getElementById("end").getBoundingClientRect();
  if (!done && end.top < window.innerHeight) more();  // still at the end: the next page
}
new IntersectionObserver(es => { if (es.some(e => e.isIntersecting)) more(); })
  .observe(document.getElementById("end"));
more();
</script></body></html>"""


@contextmanager
def fake_photos(site: FakePhotos) -> Iterator[FakePhotos]:
    by_key = {p.source_id.lower(): p for p in site.photos}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _signed_in(self) -> bool:
            name, value = SESSION_COOKIE
            return f"{name}={value}" in (self.headers.get("Cookie") or "")

        def _send(self, status: int, kind: str, body: bytes, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path == "/":
                if not self._signed_in():
                    target = "https://accounts.google.com/ServiceLogin?continue=" + site.origin
                    self._send(302, "text/html", b"", Location=target)
                    return
                link = "photo" if site.layout == "normal" else "item"
                self._send(200, "text/html; charset=utf-8", _page(link, 2 * site.page_size))
            elif url.path == "/feed":
                offset = int(parse_qs(url.query).get("offset", ["0"])[0])
                chunk = site.photos[offset : offset + site.page_size]
                feed = [
                    {
                        "id": p.source_id,
                        "label": p.label,
                        "thumb": f"{site.origin}/lh3/{p.source_id.lower()}=w256-h256-no",
                    }
                    for p in chunk
                ]
                self._send(200, "application/json", json.dumps(feed).encode())
            elif url.path.startswith("/lh3/"):
                key, _, suffix = url.path[len("/lh3/") :].partition("=")
                photo = by_key.get(key)
                full = suffix in ("d", "s0")
                if full:
                    site.image_requests.append(url.path)
                if photo is None or (site.images_need_session and not self._signed_in()):
                    self._send(403, "text/plain", b"forbidden")
                    return
                self._send(200, "image/jpeg", photo.data if full else _thumbnail(photo.data))
            elif url.path.startswith("/photo/"):
                self._send(200, "text/html", b"<html>one photo</html>")
            else:
                self._send(404, "text/plain", b"no")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.origin = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def _page(link: str, keep: int) -> bytes:
    return PAGE.replace("__LINK__", link).replace("__KEEP__", str(keep)).encode()


def _thumbnail(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((64, 64))
        out = io.BytesIO()
        im.convert("RGB").save(out, "JPEG", quality=70)
        return out.getvalue()

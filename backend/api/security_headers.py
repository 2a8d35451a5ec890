"""Security headers on every response of the service: the web UI, the API and its errors.

The UI runs only its own files (no inline script or style), so the policy can forbid inline
code outright: an injected ``<script>`` or ``onerror=`` in a photo's name would not run. No page
may be framed (clickjacking), no response sniffed into another type, no address leaked to other
sites in a Referer. A response that sets its own policy (the API docs pages) keeps it.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# blob: for the photos the UI fetches with its credentials and shows as object URLs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS: dict[bytes, bytes] = {
    b"content-security-policy": CSP.encode(),
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


class SecurityHeaders:
    """Pure ASGI middleware: adds each header of ``HEADERS`` that the response lacks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS.items() if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def allow_own_inline_scripts(page: HTMLResponse) -> HTMLResponse:
    """For a page of ours that needs inline script (Swagger UI starts itself that way): a
    policy that lets exactly those scripts run, by hash, and nothing injected beside them.
    Inline styles stay allowed there: ReDoc and Swagger UI write their own."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(bytes(page.body))
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return page

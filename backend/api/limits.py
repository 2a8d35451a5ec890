"""Refuse request bodies over a size limit before they are spooled to disk."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = "/images/upload"
# A browser's session cookie (backend/api/deps.py checks it, and its CSRF header, for real).
SESSION_COOKIE = b"dupfinder_session="
TAKEOUT_PATH = "/imports/takeout"


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Pure ASGI middleware: 413 when Content-Length (or the bytes actually sent) exceed
    ``max_bytes``, and 401 for an upload without credentials, before the body is read.
    Starlette would otherwise write the whole upload to temporary files first."""

    def __init__(self, app: ASGIApp, max_bytes: int, takeout_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # A Takeout export is streamed to disk by its route, so it may be far larger.
        self.takeout_bytes = takeout_bytes if takeout_bytes is not None else max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        takeout = scope["path"].endswith(TAKEOUT_PATH)
        max_bytes = self.takeout_bytes if takeout else self.max_bytes
        if (
            scope["method"] == "POST"
            and (scope["path"].endswith(UPLOAD_PATH) or takeout)
            and b"authorization" not in headers
            and SESSION_COOKIE not in headers.get(b"cookie", b"")
        ):
            # Refused before the app runs at all; the upload and import routes also check the
            # credentials themselves before they read a byte of the body (api/upload_spool.py).
            await self._answer(
                send,
                401,
                "sign in first: send an Authorization: Bearer <token> header "
                "(or the session cookie)",
            )
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(send, max_bytes)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(send, max_bytes)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        limit = f"{max_bytes / 2**20:.1f} MiB" if max_bytes >= 2**20 else (f"{max_bytes} bytes")
        await self._answer(
            send, 413, f"the request is larger than {limit}; send fewer or smaller files"
        )

    async def _answer(self, send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

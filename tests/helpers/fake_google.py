"""A fake Google on loopback that speaks the documented HTTP protocol of OAuth 2.0 for web-server
apps (authorise with PKCE, token, refresh, revoke) and of the Google Photos Picker API (sessions,
polling, paged media items, ``baseUrl`` bytes with the bearer token). A real HTTP server (uvicorn
in a thread), with switches for the failures Google documents."""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "dupfinder-test.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret"


@dataclass
class Item:
    id: str
    filename: str
    data: bytes
    type: str = "PHOTO"
    mime: str = "image/jpeg"
    create_time: str = "2021-06-05T10:20:30Z"
    camera_make: str | None = "FakeCam"
    camera_model: str | None = "Model 1"


@dataclass
class Failure:
    path: str  # a prefix of the request path it applies to
    status: int
    times: int
    retry_after: str | None = None
    status_text: str = ""


@dataclass
class PickerSession:
    id: str
    email: str
    created: float
    items: list[str] = field(default_factory=list)
    media_items_set: bool = False
    deleted: bool = False


class FakeGoogle:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.origin = ""
        self.account = "person@gmail.com"  # who signs in at the authorization page next
        self.deny = False
        self.library: dict[str, list[Item]] = {}  # email -> photos (and videos)
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, PickerSession] = {}
        self.base_urls: dict[str, tuple[str, str, float]] = {}  # nonce -> item, email, issued
        self.failures: list[Failure] = []
        # Switches.
        self.access_ttl = 3600
        self.invalid_grant = False  # refresh answers invalid_grant (the grant is gone)
        self.max_open_sessions = 100
        self.poll_interval = 0.1
        self.timeout_in = 30.0
        self.base_url_ttl = 3600.0
        self.base_url_origin = ""  # another origin for baseUrls (default: this server's)
        # Records.
        self.log: list[tuple[str, str, int]] = []
        self.refreshes = 0
        self.revoked: list[str] = []
        self.downloads = 0
        self.listings = 0

    # --- switches and helpers for tests -----------------------------------------------
    def reset(self) -> None:
        """Every switch back to normal (between the tests that share one fake)."""
        with self.lock:
            self.deny = False
            self.failures.clear()
            self.access_ttl = 3600
            self.invalid_grant = False
            self.max_open_sessions = 100
            self.poll_interval = 0.1
            self.timeout_in = 30.0
            self.base_url_ttl = 3600.0
            self.base_url_origin = ""

    def add_photos(self, email: str, items: list[Item]) -> None:
        self.library.setdefault(email, []).extend(items)

    def fail(
        self, path: str, status: int, times: int = 1, retry_after: str | None = None, text: str = ""
    ) -> None:
        with self.lock:
            self.failures.append(Failure(path, status, times, retry_after, text))

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far stops working (Google answers 401)."""
        with self.lock:
            for info in self.access_tokens.values():
                info["expires"] = 0.0

    def expire_base_urls(self) -> None:
        with self.lock:
            self.base_urls.clear()

    def open_sessions(self, email: str) -> list[PickerSession]:
        return [s for s in self.sessions.values() if s.email == email and not s.deleted]

    def pick(self, session_id: str, ids: list[str] | None = None) -> None:
        """The person picks (all of their library by default) and clicks Done."""
        with self.lock:
            s = self.sessions[session_id]
            s.items = ids if ids is not None else [i.id for i in self.library.get(s.email, [])]
            s.media_items_set = True

    def status_of(self, method: str, prefix: str) -> list[int]:
        return [st for m, p, st in self.log if m == method and p.startswith(prefix)]

    # --- the protocol --------------------------------------------------------------------
    def _failure(self, request: Request) -> Response | None:
        with self.lock:
            for f in self.failures:
                if f.times > 0 and request.url.path.startswith(f.path):
                    f.times -= 1
                    headers = {"Retry-After": f.retry_after} if f.retry_after else {}
                    status_text = f.status_text or (
                        "RESOURCE_EXHAUSTED" if f.status == 429 else "UNAVAILABLE"
                    )
                    body = {"error": {"code": f.status, "message": "fake", "status": status_text}}
                    return JSONResponse(body, f.status, headers=headers)
        return None

    def _bearer(self, request: Request) -> str | None:
        """The account of a valid bearer token, or None."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        with self.lock:
            info = self.access_tokens.get(header[7:])
            if info is None or info["expires"] < time.monotonic():
                return None
            rt = self.refresh_tokens.get(info["refresh"])
            if rt is None or rt["revoked"]:
                return None
            return str(info["email"])

    @staticmethod
    def _error(status: int, status_text: str, message: str = "") -> JSONResponse:
        return JSONResponse(
            {"error": {"code": status, "message": message or status_text, "status": status_text}},
            status,
        )

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return HTMLResponse("invalid_client", 400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return HTMLResponse("PKCE S256 required", 400)
        if q.get("access_type") != "offline":
            return HTMLResponse("offline access expected", 400)
        redirect = q["redirect_uri"]
        if self.deny:
            return RedirectResponse(
                f"{redirect}?{urlencode({'error': 'access_denied', 'state': q.get('state', '')})}",
                302,
            )
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {
                "redirect_uri": redirect,
                "challenge": q["code_challenge"],
                "email": self.account,
                "scope": q.get("scope", ""),
            }
        return RedirectResponse(
            f"{redirect}?{urlencode({'code': code, 'state': q.get('state', '')})}", 302
        )

    async def token(self, request: Request) -> Response:
        form = dict(await request.form())
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client"}, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.lock:
                info = self.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier") or "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if (
                info is None
                or info["redirect_uri"] != form.get("redirect_uri")
                or info["challenge"] != challenge
            ):
                return JSONResponse({"error": "invalid_grant", "error_description": "Bad"}, 400)
            refresh = "1//" + secrets.token_urlsafe(24)
            with self.lock:
                self.refresh_tokens[refresh] = {"email": info["email"], "revoked": False}
            access = self._issue(refresh, info["email"])
            id_token = jwt.encode(
                {
                    "iss": "https://accounts.google.com",
                    "aud": CLIENT_ID,
                    "sub": hashlib.sha1(info["email"].encode()).hexdigest(),
                    "email": info["email"],
                    "email_verified": True,
                    "exp": int(time.time()) + 3600,
                },
                secrets.token_hex(32),
                algorithm="HS256",
            )
            return JSONResponse(
                {
                    "access_token": access,
                    "expires_in": self.access_ttl,
                    "refresh_token": refresh,
                    "scope": info["scope"],
                    "token_type": "Bearer",
                    "id_token": id_token,
                }
            )
        if grant == "refresh_token":
            refresh = str(form.get("refresh_token"))
            with self.lock:
                self.refreshes += 1
                info = self.refresh_tokens.get(refresh)
            if self.invalid_grant or info is None or info["revoked"]:
                return JSONResponse(
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                    400,
                )
            access = self._issue(refresh, info["email"])
            # As Google does: no new refresh token on a refresh.
            return JSONResponse(
                {"access_token": access, "expires_in": self.access_ttl, "token_type": "Bearer"}
            )
        return JSONResponse({"error": "unsupported_grant_type"}, 400)

    def _issue(self, refresh: str, email: str) -> str:
        access = "ya29." + secrets.token_urlsafe(24)
        with self.lock:
            self.access_tokens[access] = {
                "email": email,
                "refresh": refresh,
                "expires": time.monotonic() + self.access_ttl,
            }
        return access

    async def revoke(self, request: Request) -> Response:
        form = dict(await request.form())
        token = str(form.get("token") or request.query_params.get("token") or "")
        with self.lock:
            self.revoked.append(token)
            if token in self.refresh_tokens:
                self.refresh_tokens[token]["revoked"] = True
                return JSONResponse({})
            if token in self.access_tokens:
                self.access_tokens[token]["expires"] = 0.0
                return JSONResponse({})
        return JSONResponse({"error": "invalid_token"}, 400)

    def _session_body(self, s: PickerSession) -> dict[str, Any]:
        remaining = max(0.0, self.timeout_in - (time.monotonic() - s.created))
        expire = datetime.now(UTC) + timedelta(seconds=remaining)
        return {
            "id": s.id,
            "pickerUri": f"{self.origin}/picker/{s.id}",
            "pollingConfig": {
                "pollInterval": f"{self.poll_interval}s",
                "timeoutIn": f"{remaining:.3f}s",
            },
            "expireTime": expire.isoformat().replace("+00:00", "Z"),
            "mediaItemsSet": s.media_items_set,
        }

    async def picker_api(self, request: Request) -> Response:
        failure = self._failure(request)
        if failure is not None:
            return failure
        email = self._bearer(request)
        if email is None:
            return self._error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        path = request.url.path
        if path == "/v1/sessions" and request.method == "POST":
            with self.lock:
                if len(self.open_sessions(email)) >= self.max_open_sessions:
                    return self._error(429, "RESOURCE_EXHAUSTED", "Too many open sessions")
                s = PickerSession(secrets.token_hex(8), email, time.monotonic())
                self.sessions[s.id] = s
            return JSONResponse(self._session_body(s))
        if path.startswith("/v1/sessions/"):
            s_or_none = self.sessions.get(path.rsplit("/", 1)[1])
            if s_or_none is None or s_or_none.email != email or s_or_none.deleted:
                return self._error(404, "NOT_FOUND")
            if request.method == "DELETE":
                s_or_none.deleted = True
                return JSONResponse({})
            return JSONResponse(self._session_body(s_or_none))
        if path == "/v1/mediaItems":
            q = request.query_params
            s_or_none = self.sessions.get(q.get("sessionId", ""))
            if s_or_none is None or s_or_none.email != email or s_or_none.deleted:
                return self._error(404, "NOT_FOUND")
            if not s_or_none.media_items_set:
                return self._error(400, "FAILED_PRECONDITION", "User has not picked yet")
            size = min(100, int(q.get("pageSize", "25")))
            start = int(q.get("pageToken") or 0)
            library = {i.id: i for i in self.library.get(email, [])}
            chosen = [library[i] for i in s_or_none.items][start : start + size]
            self.listings += 1
            body: dict[str, Any] = {"mediaItems": [self._item(i, email) for i in chosen]}
            if start + size < len(s_or_none.items):
                body["nextPageToken"] = str(start + size)
            return JSONResponse(body)
        return self._error(404, "NOT_FOUND")

    def _item(self, item: Item, email: str) -> dict[str, Any]:
        nonce = secrets.token_urlsafe(12)
        with self.lock:
            self.base_urls[nonce] = (item.id, email, time.monotonic())
        meta: dict[str, Any] = {"width": 320, "height": 240}
        if item.camera_make:
            meta["cameraMake"] = item.camera_make
        if item.camera_model:
            meta["cameraModel"] = item.camera_model
        return {
            "id": item.id,
            "createTime": item.create_time,
            "type": item.type,
            "mediaFile": {
                "baseUrl": f"{self.base_url_origin or self.origin}/media/{nonce}",
                "mimeType": item.mime,
                "filename": item.filename,
                "mediaFileMetadata": meta,
            },
        }

    async def media(self, request: Request) -> Response:
        failure = self._failure(request)
        if failure is not None:
            return failure
        email = self._bearer(request)
        if email is None:
            return self._error(401, "UNAUTHENTICATED")
        rest = request.path_params["rest"]
        if not rest.endswith("=d"):
            return Response(status_code=400)
        with self.lock:
            entry = self.base_urls.get(rest[:-2])
        if entry is None or entry[1] != email or time.monotonic() - entry[2] > self.base_url_ttl:
            return Response("expired", status_code=403)
        item = next(i for i in self.library[email] if i.id == entry[0])
        with self.lock:
            self.downloads += 1
        return Response(item.data, media_type=item.mime)

    async def picker_page(self, request: Request) -> Response:
        """Google's picker UI, reduced to "the person picks everything and clicks Done"."""
        s = self.sessions.get(request.path_params["sid"])
        if s is None:
            return HTMLResponse("unknown session", 404)
        self.pick(s.id)
        close = "<script>setTimeout(() => window.close(), 300)</script>"
        auto = request.url.path.endswith("/autoclose")
        return HTMLResponse(
            f"<html><body><h1>Picked {len(s.items)} items</h1>{close if auto else ''}</body></html>"
        )

    def app(self) -> Starlette:
        async def logged(request: Request, handler: Any) -> Response:
            response: Response = await handler(request)
            self.log.append((request.method, request.url.path, response.status_code))
            return response

        def route(path: str, handler: Any, methods: list[str]) -> Route:
            async def endpoint(request: Request) -> Response:
                return await logged(request, handler)

            return Route(path, endpoint, methods=methods)

        return Starlette(
            routes=[
                route("/o/oauth2/v2/auth", self.authorize, ["GET"]),
                route("/token", self.token, ["POST"]),
                route("/revoke", self.revoke, ["POST"]),
                route("/v1/sessions", self.picker_api, ["POST"]),
                route("/v1/sessions/{sid}", self.picker_api, ["GET", "DELETE"]),
                route("/v1/mediaItems", self.picker_api, ["GET"]),
                route("/media/{rest}", self.media, ["GET"]),
                route("/picker/{sid}", self.picker_page, ["GET"]),
                route("/picker/{sid}/autoclose", self.picker_page, ["GET"]),
            ]
        )

    def settings(self) -> dict[str, Any]:
        """The service's settings that point it at this fake."""
        return {
            "DUPFINDER_GOOGLE_CLIENT_ID": CLIENT_ID,
            "DUPFINDER_GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
            "DUPFINDER_GOOGLE_AUTHORIZE_URL": f"{self.origin}/o/oauth2/v2/auth",
            "DUPFINDER_GOOGLE_TOKEN_URL": f"{self.origin}/token",
            "DUPFINDER_GOOGLE_REVOKE_URL": f"{self.origin}/revoke",
            "DUPFINDER_GOOGLE_PICKER_URL": self.origin,
        }


@contextmanager
def fake_google() -> Iterator[FakeGoogle]:
    fake = FakeGoogle()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    fake.origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the fake Google did not start"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


# --- driving the service through the fake -------------------------------------------------


def jpeg_of(name: str, quality: int = 90) -> bytes:
    """A real photograph (scikit-image's sample data) as JPEG."""
    from tests.helpers.photos import jpeg, skimage_photo

    return jpeg(skimage_photo(name).resize((320, 240)), quality)


def browse(person: Any, fake: FakeGoogle, account: str) -> Any:
    """What a browser does: ask for the authorisation URL, sign in at Google as ``account``,
    follow the redirect back to the callback. Returns the callback's response."""
    import httpx

    fake.account = account
    response = person.post("/integrations/google/connect")
    assert response.status_code == 200, response.text
    at_google = httpx.get(response.json()["authorization_url"], follow_redirects=False)
    assert at_google.status_code == 302, at_google.text
    return person.client.get(at_google.headers["location"], follow_redirects=False)


def connect(person: Any, fake: FakeGoogle, account: str) -> None:
    back = browse(person, fake, account)
    assert back.status_code == 303
    assert back.headers["location"] == "/?google=connected", back.headers["location"]


def wait_pick(person: Any, pick_id: int, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the pick until it ends; then wait for the analysis of what it imported."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = person.get(f"/integrations/google/picks/{pick_id}").json()
        if body["state"] not in ("waiting", "importing"):
            person.settle()
            return body
        assert time.monotonic() < deadline, f"pick still {body['state']}: {body}"
        time.sleep(0.05)


_people = iter(range(1, 1_000_000))


def new_person(client: Any, runtime: Any, name: str) -> Any:
    """A signed-in person without the cost of hashing a password (the tests here are about
    Google, not sign-in): the row written directly, the token minted as sign-in would."""
    from backend.models import SessionKind, User
    from backend.services.security import create_access_token
    from backend.services.sessions import open_session
    from tests.helpers.app import Person

    ctx = runtime.ctx
    email = f"{name}-{next(_people)}@example.com"
    with ctx.session(write=True) as session:
        user = User(email=email, hashed_password="!")
        session.add(user)
        session.flush()
        assert user.id is not None
        user_id = user.id
        opened = open_session(session, user_id, SessionKind.API, 1)
    token = create_access_token(user_id, opened.id, ctx.settings.secret_key, 60)
    return Person(client, runtime, email, {"Authorization": f"Bearer {token}"})


@dataclass
class GoogleEnv:
    """The real service (embedded) pointed at a fake Google; tests make their own people."""

    client: Any
    runtime: Any
    fake: FakeGoogle
    db: Any  # the SQLite file

    def person(self, name: str) -> Any:
        return new_person(self.client, self.runtime, name)

    def raw(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        import sqlite3

        db = sqlite3.connect(self.db)
        try:
            with db:
                return db.execute(sql, args).fetchall()
        finally:
            db.close()


@contextmanager
def google_env(data_dir: Any, **overrides: Any) -> Iterator[GoogleEnv]:
    from tests.helpers.app import make_settings, service

    with fake_google() as fake:
        settings = make_settings(
            data_dir,
            **fake.settings(),
            DUPFINDER_RETRY_BASE_SECONDS=0.05,
            DUPFINDER_SWEEP_SECONDS=3600,
            **overrides,
        )
        with service(settings) as (client, runtime):
            yield GoogleEnv(client, runtime, fake, data_dir / "dupfinder.sqlite3")


def session_of(pick: dict[str, Any]) -> str:
    """The Google session id in a pick's picker_uri (…/picker/ID/autoclose)."""
    return str(pick["picker_uri"]).split("/")[-2]

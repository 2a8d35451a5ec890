"""Security headers on the web UI, the API and its errors; no inline code in the UI; /health
tells no one where the server keeps its files."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from backend.api.security_headers import HEADERS
from backend.config.settings import REPO_FRONTEND
from tests.helpers.app import Person, make_settings, service

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def policy(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy as directive -> sources."""
    directives = [d.split() for d in response.headers["content-security-policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


def assert_protected(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    csp = policy(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval, no other origin
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]


def test_every_kind_of_answer_carries_the_headers(client: TestClient, alice: Person) -> None:
    answers = [
        client.get("/"),  # the web UI
        client.get("/app.js"),
        alice.get("/users/me"),  # the API
        alice.get("/images"),
        alice.get("/images/1"),  # an API error (404)
        client.get("/api/v1/no-such-thing"),  # a path no route knows
        client.get("/api/v1/users/me"),  # 401 from the API
        client.post("/api/v1/images/upload", files={"files": ("a.jpg", b"x")}),  # 401 early
        client.get("/health"),
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 404, 404, 401, 401, 200]
    for response in answers:
        assert_protected(response)
    assert answers[5].json() == {"detail": "Not Found"}  # JSON, not the UI's file server


def test_a_wrong_method_on_an_api_path_is_a_405_naming_every_method(client: TestClient) -> None:
    # It used to reach the UI's file server: 404, or 405 advertising "GET, HEAD".
    response = client.request("PATCH", "/api/v1/images/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert response.json() == {"detail": "Method Not Allowed"}
    response = client.request("PUT", "/api/v1/images/upload")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert_protected(response)


class _InlineCode(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower() for name, _ in attrs}
        self.found += [f"<{tag} {n}=...>" for n in names if n.startswith("on") or n == "style"]
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [
            f"<{tag} {n}=javascript:...>"
            for n, v in attrs
            if v and v.strip().lower().startswith("javascript:")
        ]


def test_the_web_ui_has_no_inline_script_or_style() -> None:
    """What the policy would block: the UI must not need any of it."""
    pages = sorted(REPO_FRONTEND.glob("*.html"))
    assert pages
    for page in pages:
        parser = _InlineCode()
        parser.feed(page.read_text())
        assert parser.found == [], page.name


def test_the_api_docs_run_only_their_own_inline_script(client: TestClient) -> None:
    for path in ("/docs", "/docs/oauth2-redirect"):
        response = client.get(path)
        assert response.status_code == 200
        scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", response.text, re.S)
        assert scripts, "Swagger UI starts itself with an inline script"
        allowed = policy(response)["script-src"]
        assert "'unsafe-inline'" not in allowed
        for body in scripts:
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in allowed
        assert policy(response)["frame-ancestors"] == ["'none'"]
    redoc = client.get("/redoc")
    assert policy(redoc)["img-src"] == ["'self'", "data:"]  # no Redocly logo from its CDN


def test_health_without_a_sign_in_shows_no_file_paths(tmp_path: Path) -> None:
    # A CLIP model named but not fetched: its note said where the models folder is.
    data_dir = tmp_path / "secret-place"
    settings = make_settings(data_dir, DUPFINDER_CLIP_MODEL="clip-vit-b-32")
    with service(settings) as (client, _runtime):
        response = client.get("/health")
    assert response.status_code == 200
    text = response.text
    assert "secret-place" not in text and str(tmp_path) not in text
    assert "fetch-clip clip-vit-b-32" in response.json()["models"]["clip_note"]  # still useful


def test_the_frontend_container_sends_the_same_headers() -> None:
    """Distributed mode serves the UI from nginx (deploy/nginx): the same policy there."""
    template = (REPO_FRONTEND.parent / "deploy" / "nginx" / "default.conf.template").read_text()
    sent = dict(re.findall(r'add_header ([\w-]+) "([^"]*)" always;', template))
    for name, value in HEADERS.items():
        assert sent.get(name.decode().title()) == value.decode(), name

"""/docs and /redoc work without internet: every script, stylesheet and icon is served here."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

PAGES = ["/docs", "/redoc"]
CHROMIUM = os.environ.get("DUPFINDER_CHROMIUM", "/usr/bin/chromium")
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def referenced(html: str) -> list[str]:
    """What the page loads: every <script src> and <link href>."""
    return re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]*)\"", html)


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_only_same_origin_assets(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text.lower()
    assert "http" not in page and "cdn" not in page and "//" not in page
    assets = referenced(response.text)
    assert len(assets) >= 2  # the page's script, and its favicon (and Swagger UI's stylesheet)
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        kind = ASSET_TYPES[Path(url).suffix]
        assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > (1000 if kind == "image/png" else 100_000), url


def test_swagger_ui_oauth2_redirect_page(client: TestClient) -> None:
    response = client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "oauth2" in response.text


def test_docs_pages_are_not_in_the_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]


@pytest.fixture
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (Debian package `chromium`)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.mark.parametrize(
    ("path", "operation"),
    [("/docs", ".swagger-ui .opblock"), ("/redoc", "[data-section-id^='operation/']")],
)
def test_page_renders_offline_in_chromium(
    client: TestClient, browser: Any, path: str, operation: str
) -> None:
    """Real Chromium whose every request is answered by the app in-process: anything that
    would leave for the internet is refused and noted."""
    outside: list[str] = []

    def answer(route: Any) -> None:
        url: str = route.request.url
        if not url.startswith(str(client.base_url) + "/"):
            outside.append(url)
            route.abort()
            return
        r = client.get(url)
        route.fulfill(status=r.status_code, headers=dict(r.headers), body=r.content)

    page = browser.new_page()
    page.route("**/*", answer)
    page.goto(f"{client.base_url}{path}")
    page.wait_for_selector(operation, timeout=20_000)
    assert len(page.query_selector_all(operation)) >= 5
    assert "Duplicate Image Finder" in (page.text_content("h1, h2") or "")
    assert outside == []

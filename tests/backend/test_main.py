"""The application object: the web UI's static files next to the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from tests.helpers.app import make_settings, service


def test_web_ui_is_served_and_the_api_still_wins(tmp_path: Path) -> None:
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<h1>Duplicate Image Finder</h1>")
    (ui / "app.js").write_text("console.log('hi')")
    with TestClient(create_app(make_settings(tmp_path / "d", DUPFINDER_FRONTEND_DIR=str(ui)))) as c:
        assert "Duplicate Image Finder" in c.get("/").text
        assert c.get("/app.js").headers["content-type"].startswith("text/javascript")
        assert c.get("/health").json()["status"] == "ok"
        assert c.get("/api/v1/users/me").status_code == 401


def test_no_ui_without_a_frontend_folder(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", DUPFINDER_FRONTEND_DIR=str(tmp_path / "missing"))
    with TestClient(create_app(settings)) as c:
        assert c.get("/").status_code == 404
        assert c.get("/health").status_code == 200


def test_empty_frontend_dir_serves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    (workdir / ".env").write_text("DUPFINDER_SECRET_KEY=do-not-leak-me")
    monkeypatch.chdir(workdir)
    settings = make_settings(tmp_path / "d", DUPFINDER_FRONTEND_DIR="")
    with TestClient(create_app(settings)) as c:
        leaked = c.get("/.env")
        assert "do-not-leak-me" not in leaked.text
        assert settings.frontend_dir is None


def test_cors_origins_are_applied(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_CORS_ORIGINS=["http://localhost:3000"])
    with service(settings) as (client, _runtime):
        response = client.options(
            "/api/v1/users/me",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = client.get("/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers

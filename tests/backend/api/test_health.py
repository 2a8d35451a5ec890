"""/health, and what every endpoint says when the database is away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend import __version__
from backend.config import Settings
from backend.config.settings import DEV_SECRET
from backend.main import create_app
from backend.runtime import build_runtime
from backend.services.security import create_access_token
from tests.helpers.app import API, PASSWORD, make_settings

# Nothing listens on port 1: connecting fails at once with "connection refused".
DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/dupfinder"
VALID_TOKEN = create_access_token(1, 1, DEV_SECRET, 10)
# What /health says of the models under the tests' settings (tests/helpers/app.py MODELS_OFF).
HASHES_ONLY = {
    "copy_detection": None,
    "clip": None,
    "clip_note": "disabled (DUPFINDER_CLIP_MODEL=none)",
    "objects": None,
    "similar_tier": "none (perceptual hashes only)",
}


@pytest.mark.parametrize("path", ["/health", f"{API}/health"])
def test_health_ok(client: TestClient, settings: Settings, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "worker": "embedded",
        "broker": "ok",
        "version": __version__,
        "models": HASHES_ONLY,
        # SQLite has no pgvector: the in-process index, exact up to the configured limit.
        "vector_index": (
            f"in-process (exact NumPy up to {settings.vector_exact_limit} vectors,"
            " then usearch HNSW)"
        ),
        "google_photos": "off (set DUPFINDER_GOOGLE_CLIENT_ID and DUPFINDER_GOOGLE_CLIENT_SECRET)",
    }


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, DATABASE_URL=DEAD_DATABASE)
    runtime = build_runtime(settings, migrate=False)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            yield client
    finally:
        runtime.close()


def test_health_reports_the_database_down(offline: TestClient) -> None:
    response = offline.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "unavailable",
        "worker": "embedded",
        "broker": "ok",
        "version": __version__,
        "models": HASHES_ONLY,  # known without the database
        "vector_index": "not chosen yet (the database could not be reached)",
        "google_photos": "off (set DUPFINDER_GOOGLE_CLIENT_ID and DUPFINDER_GOOGLE_CLIENT_SECRET)",
    }


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/auth/register", {"json": {"email": "a@example.com", "password": PASSWORD}}),
        ("POST", "/auth/token", {"data": {"username": "a@example.com", "password": PASSWORD}}),
        ("GET", "/users/me", {"headers": {"Authorization": f"Bearer {VALID_TOKEN}"}}),
    ],
)
def test_endpoints_answer_503_with_a_message(
    offline: TestClient, method: str, path: str, kwargs: dict[str, object]
) -> None:
    response = offline.request(method, API + path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 503, response.text
    assert response.json() == {
        "detail": "the database is unavailable right now; please retry shortly"
    }
    assert response.headers["retry-after"] == "5"


def test_a_missing_schema_is_an_internal_error_not_an_outage(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    runtime = build_runtime(settings, migrate=False)  # a database nobody migrated
    try:
        with TestClient(create_app(settings, runtime)) as client:
            response = client.post(
                f"{API}/auth/register", json={"email": "a@example.com", "password": PASSWORD}
            )
            assert response.status_code == 500
            assert response.json() == {"detail": "internal error"}
            assert client.get("/health").status_code == 200  # SELECT 1 still works
    finally:
        runtime.close()


def test_app_owns_its_runtime_when_none_is_given(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["database"] == "ok"
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.worker._closed  # closed with the app
    assert (tmp_path / "dupfinder.sqlite3").is_file()


def test_openapi_describes_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Duplicate Image Finder"
    assert f"{API}/images/upload" in spec["paths"]
    # Lists answer one generic page shape, one schema per kind of item.
    for path, item in ((f"{API}/images", "ImageOut"), (f"{API}/duplicates/groups", "GroupOut")):
        ok = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/Page_{item}_"}
        page = spec["components"]["schemas"][f"Page_{item}_"]
        assert page["title"] == f"Page[{item}]"
        assert page["required"] == ["items", "total", "page", "size"]
        assert page["properties"]["items"]["items"] == {"$ref": f"#/components/schemas/{item}"}

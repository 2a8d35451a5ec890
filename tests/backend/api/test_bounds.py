"""Numbers no database column holds are refused as JSON (422), never a plain-text 500.

SQLite raises OverflowError for integers of 2**63 and beyond; the routes used to pass such
ids and pages straight to it. The id routes are read from the app's OpenAPI description, so a
route added later with an id in its path is covered without being listed here.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from backend.api.params import ID_MAX
from backend.config import Settings
from tests.backend.api.test_isolation import ID_PARAM, id_routes
from tests.helpers.app import Person, make_settings

TOO_BIG = 2**63  # one past the largest signed 64-bit integer
HUGE_PAGE = 3634444737178165760  # the page of the probe that found the 500
LISTS = ["/images", "/duplicates/groups"]


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # Google Photos configured, so that the pick route answers rather than saying "off".
    return make_settings(data_dir, DUPFINDER_GOOGLE_CLIENT_ID="bounds.apps.example")


@pytest.fixture
def lenient(client: TestClient) -> TestClient:
    """The same app, answering a server error as a 500 rather than raising it in the test."""
    return TestClient(client.app, raise_server_exceptions=False)


def _call(
    client: TestClient, alice: Person, method: str, path: str, value: int | str
) -> httpx.Response:
    url = ID_PARAM.sub(str(value), path)
    body = {"keep": [1]} if path.endswith("/resolve") else None
    return client.request(method, url, headers=alice.headers, json=body)


def _assert_json_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str)


def test_ids_past_64_bits_are_422_on_every_id_route(lenient: TestClient, alice: Person) -> None:
    routes = id_routes(lenient)
    assert ("GET", "/api/v1/images/{image_id}/thumbnail") in routes
    for method, path in sorted(routes):
        for value in (TOO_BIG, 2**63 - 1, ID_MAX + 1, 10**30, 0):
            _assert_json_error(_call(lenient, alice, method, path, value), 422)
        # Not a number at all: 422, or where the path only takes digits (so that /images/tags
        # is no image id) 404, or 405 for a method that literal path lacks; JSON every time,
        # never the web UI's file server.
        for value in ("-1", "1e3", "abc", "upload"):
            response = _call(lenient, alice, method, path, value)
            assert response.status_code in (404, 405, 422), (method, path, value)
            _assert_json_error(response, response.status_code)


def test_the_largest_id_is_simply_not_found(lenient: TestClient, alice: Person) -> None:
    for method, path in sorted(id_routes(lenient)):
        _assert_json_error(_call(lenient, alice, method, path, ID_MAX), 404)


def test_ids_in_a_body_are_bounded_too(lenient: TestClient, alice: Person) -> None:
    body = {"keep": [TOO_BIG], "trash": [1], "seen": [TOO_BIG]}
    response = alice.client.post(
        "/api/v1/duplicates/groups/1/resolve", headers=alice.headers, json=body
    )
    _assert_json_error(response, 422)
    response = lenient.post(
        "/api/v1/duplicates/groups/1/dismiss", headers=alice.headers, json={"seen": [TOO_BIG]}
    )
    _assert_json_error(response, 422)


def test_pages_whose_offset_cannot_exist_are_422(lenient: TestClient, alice: Person) -> None:
    for path in LISTS:
        for page in (HUGE_PAGE, TOO_BIG, 0):
            response = lenient.get(
                "/api/v1" + path, headers=alice.headers, params={"page": page, "size": 500}
            )
            _assert_json_error(response, 422)


def test_the_last_allowed_page_is_empty_not_an_error(lenient: TestClient, alice: Person) -> None:
    schema = lenient.app.openapi()  # type: ignore[attr-defined]
    page = schema["paths"]["/api/v1/images"]["get"]["parameters"]
    last = next(p for p in page if p["name"] == "page")["schema"]["maximum"]
    for path in LISTS:
        size = 200 if "groups" in path else 500
        response = lenient.get(
            "/api/v1" + path, headers=alice.headers, params={"page": last, "size": size}
        )
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []

"""Request bodies over the configured size are refused before they are stored anywhere."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import images as img
from tests.helpers.app import API, PASSWORD, Person, make_settings, service


def test_oversized_request_is_refused_with_413(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_MAX_REQUEST_BYTES=50_000)
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "ivy@example.com")
        big = [(f"{n}.jpg", img.jpeg(n, (640, 480))) for n in range(8)]
        response = client.post(
            f"{API}/images/upload",
            headers=person.headers,
            files=[("files", (name, data, "image/jpeg")) for name, data in big],
        )
        assert response.status_code == 413
        assert "larger than 50000 bytes" in response.json()["detail"]
        assert person.get("/images").json()["total"] == 0
        small = person.upload([("one.jpg", img.jpeg(1, (200, 150)))])
        assert len(small["images"]) == 1


def test_an_upload_without_credentials_is_refused_before_its_body_is_read(
    tmp_path: Path,
) -> None:
    with service(make_settings(tmp_path)) as (client, _runtime):
        response = client.post(
            f"{API}/images/upload", files=[("files", ("a.jpg", img.jpeg(1), "image/jpeg"))]
        )
        assert response.status_code == 401
        assert "sign in first" in response.json()["detail"]


def test_an_upload_with_the_session_cookie_reaches_the_route(tmp_path: Path) -> None:
    """The web UI signs in with a cookie: its uploads carry no Authorization header."""
    with service(make_settings(tmp_path)) as (client, runtime):
        Person.sign_up(client, runtime, "cookie@example.com")
        client.headers.pop("Authorization", None)
        login = client.post(
            f"{API}/auth/login", json={"email": "cookie@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        response = client.post(
            f"{API}/images/upload",
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
            files=[("files", ("a.jpg", img.jpeg(1), "image/jpeg"))],
        )
        assert response.status_code == 202, response.text
        # The cookie still needs its CSRF header (checked by the route's dependency).
        refused = client.post(
            f"{API}/images/upload", files=[("files", ("b.jpg", img.jpeg(2), "image/jpeg"))]
        )
        assert refused.status_code == 403

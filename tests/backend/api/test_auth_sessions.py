"""Session cookies and CSRF, bearer tokens with refresh, and what revokes them (the contract in
briefs: login, logout, logout everywhere, password change)."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.models import AuthSession
from backend.runtime import Runtime
from tests.helpers.app import API, PASSWORD, Person, register, token
from tests.helpers.images import jpeg

ME = f"{API}/users/me"
ENDED = "your session has ended; sign in again"
INVALID = "the access token is invalid or has expired; sign in again"


def login(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post(f"{API}/auth/login", json={"email": email, "password": password})


def cookies_set(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie line by cookie name, lower-cased."""
    lines = response.headers.get_list("set-cookie")
    return {line.split("=", 1)[0]: line.lower() for line in lines}


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def test_login_sets_a_session_cookie_and_a_csrf_cookie(
    client: TestClient, runtime: Runtime
) -> None:
    register(client, "ann@example.com")
    response = login(client, "Ann@Example.com ")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == "ann@example.com" and set(body) == {"user", "csrf_token"}
    lines = cookies_set(response)
    session_line, csrf_line = lines["dupfinder_session"], lines["dupfinder_csrf"]
    for part in ("httponly", "samesite=strict", "path=/"):
        assert part in session_line
    assert "samesite=strict" in csrf_line and "path=/" in csrf_line
    assert "httponly" not in csrf_line  # the page reads it to send X-CSRF-Token
    assert "secure" not in session_line  # plain http here (loopback)
    assert client.cookies["dupfinder_csrf"] == body["csrf_token"]
    # The opaque id is not what the database keeps (only its hash).
    secret = client.cookies["dupfinder_session"]
    with Session(runtime.engine) as session:
        hashes = session.exec(select(AuthSession.secret_hash)).all()
    assert len(hashes) == 1 and secret not in hashes[0]
    # The cookie alone signs the person in (no Authorization header).
    assert client.get(ME).json()["email"] == "ann@example.com"


def test_cookies_are_secure_over_https(client: TestClient) -> None:
    register(client, "tls@example.com")
    response = client.post(
        f"https://testserver{API}/auth/login",
        json={"email": "tls@example.com", "password": PASSWORD},
    )
    assert response.status_code == 200
    assert all("secure" in line for line in cookies_set(response).values())


def test_wrong_login_is_a_json_401_and_sets_no_cookie(client: TestClient) -> None:
    register(client, "bea@example.com")
    for email, password in (("bea@example.com", "not the password"), ("no@example.com", PASSWORD)):
        response = login(client, email, password)
        assert response.status_code == 401
        assert response.json() == {"detail": "wrong email or password"}
        assert "set-cookie" not in response.headers


def test_unsafe_requests_with_the_cookie_need_the_csrf_header(client: TestClient) -> None:
    register(client, "cy@example.com")
    csrf = login(client, "cy@example.com").json()["csrf_token"]
    photo = [("files", ("a.jpg", jpeg(1), "image/jpeg"))]
    refused = "missing or wrong X-CSRF-Token header"
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": csrf + "0"}):
        response = client.post(f"{API}/images/upload", files=photo, headers=headers)
        assert response.status_code == 403, response.text
        assert response.json()["detail"].startswith(refused)
    assert client.get(f"{API}/images").json()["total"] == 0  # nothing was stored
    # A planted CSRF cookie matching a planted header is still refused: the token is bound to
    # the session.
    client.cookies.set("dupfinder_csrf", "planted")
    response = client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": "planted"})
    assert response.status_code == 403
    client.cookies.set("dupfinder_csrf", csrf)
    ok = client.post(f"{API}/images/upload", files=photo, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 202, ok.text
    assert client.get(f"{API}/images").json()["total"] == 1  # safe methods need no header


def test_logout_revokes_the_cookie_session(client: TestClient) -> None:
    register(client, "dee@example.com")
    csrf = login(client, "dee@example.com").json()["csrf_token"]
    secret = client.cookies["dupfinder_session"]
    response = client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    lines = cookies_set(response)
    assert (
        'dupfinder_session=""' in lines["dupfinder_session"]
        and "max-age=0" in lines["dupfinder_session"]
    )
    assert "max-age=0" in lines["dupfinder_csrf"]
    # Someone who kept a copy of the cookie gets nothing from it.
    client.cookies.set("dupfinder_session", secret)
    assert client.get(ME).status_code == 401
    assert client.get(ME).json() == {"detail": ENDED}


def test_logout_revokes_the_bearer_token_and_its_refresh_token(client: TestClient) -> None:
    register(client, "eve@example.com")
    issued = token(client, "eve@example.com").json()
    other = token(client, "eve@example.com").json()  # another device
    assert (
        client.post(f"{API}/auth/logout", headers=bearer(issued["access_token"])).status_code == 204
    )
    assert client.get(ME, headers=bearer(issued["access_token"])).json() == {"detail": INVALID}
    refreshed = client.post(f"{API}/auth/refresh", json={"refresh_token": issued["refresh_token"]})
    assert refreshed.status_code == 401
    assert client.get(ME, headers=bearer(other["access_token"])).status_code == 200


def test_logout_everywhere_revokes_every_session(client: TestClient) -> None:
    register(client, "fay@example.com")
    devices = [token(client, "fay@example.com").json() for _ in range(2)]
    login(client, "fay@example.com")  # and the browser
    browser = client.cookies["dupfinder_session"]
    response = client.post(
        f"{API}/auth/logout",
        params={"everywhere": "true"},
        headers=bearer(devices[0]["access_token"]),
    )
    assert response.status_code == 204
    for device in devices:
        assert client.get(ME, headers=bearer(device["access_token"])).status_code == 401
    client.cookies.set("dupfinder_session", browser)
    assert client.get(ME).json() == {"detail": ENDED}  # the cookie too


def test_refresh_rotates_the_refresh_token(client: TestClient) -> None:
    register(client, "gus@example.com")
    first = token(client, "gus@example.com").json()
    second = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    renewed = second.json()
    assert renewed["refresh_token"] != first["refresh_token"]
    assert client.get(ME, headers=bearer(renewed["access_token"])).status_code == 200
    used = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert used.status_code == 401
    assert used.json() == {"detail": "the refresh token is invalid, used or revoked; sign in again"}
    for junk in ("", "x" * 43):
        assert client.post(f"{API}/auth/refresh", json={"refresh_token": junk}).status_code == 401


def test_a_password_change_revokes_every_other_session(client: TestClient) -> None:
    register(client, "hal@example.com")
    here, there = (token(client, "hal@example.com").json() for _ in range(2))
    login(client, "hal@example.com")  # a browser elsewhere
    new_password = "a brand new passphrase"
    wrong = client.post(
        f"{API}/users/me/password",
        json={"current_password": "not the password", "new_password": new_password},
        headers=bearer(here["access_token"]),
    )
    assert wrong.status_code == 403 and wrong.json() == {
        "detail": "current_password: wrong password"
    }
    assert (
        client.get(ME, headers=bearer(there["access_token"])).status_code == 200
    )  # nothing revoked
    response = client.post(
        f"{API}/users/me/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=bearer(here["access_token"]),
    )
    assert response.status_code == 204, response.text
    assert client.get(ME, headers=bearer(here["access_token"])).status_code == 200  # kept
    assert client.get(ME, headers=bearer(there["access_token"])).status_code == 401
    again = client.post(f"{API}/auth/refresh", json={"refresh_token": there["refresh_token"]})
    assert again.status_code == 401
    assert client.get(ME, headers={}).status_code == 401  # the browser's cookie
    assert token(client, "hal@example.com").status_code == 401  # the old password
    assert token(client, "hal@example.com", new_password).status_code == 200


def test_password_change_with_the_cookie_needs_csrf(client: TestClient, alice: Person) -> None:
    register(client, "ida@example.com")
    csrf = login(client, "ida@example.com").json()["csrf_token"]
    change = {"current_password": PASSWORD, "new_password": "yet another passphrase"}
    response = client.post(f"{API}/users/me/password", json=change)
    assert response.status_code == 403
    response = client.post(f"{API}/users/me/password", json=change, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert client.get(ME).status_code == 200  # this browser stays signed in
    assert alice.get("/users/me").status_code == 200  # another person is not affected

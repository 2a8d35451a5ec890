"""Accounts and tokens."""

from __future__ import annotations

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.config import Settings
from backend.models import User
from backend.runtime import Runtime
from backend.services.security import ALGORITHM, create_access_token, read_access_token
from tests.helpers.app import API, PASSWORD, Person, register, token


def me(client: TestClient, bearer: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    response = client.get(f"{API}/users/me", headers=headers)
    return response.status_code, response.json().get("detail", "")


def test_register_sign_in_and_me(client: TestClient) -> None:
    response = client.post(
        f"{API}/auth/register",
        json={"email": " Jo@Example.COM ", "password": PASSWORD, "name": " Jo "},
    )
    assert response.status_code == 202
    assert response.json()["email"] == "jo@example.com"

    issued = token(client, "JO@example.com")
    assert issued.status_code == 200 and issued.json()["token_type"] == "bearer"
    assert issued.json()["expires_in"] == 15 * 60 and issued.json()["refresh_token"]
    headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    user = client.get(f"{API}/users/me", headers=headers).json()
    assert (user["email"], user["name"]) == ("jo@example.com", "Jo")
    assert set(user) == {"id", "email", "name", "created_at"}  # never the password hash


def test_registration_does_not_reveal_whether_the_email_exists(client: TestClient) -> None:
    first = register(client, "sam@example.com")
    again = client.post(
        f"{API}/auth/register",
        json={"email": "SAM@example.com ", "password": "another long passphrase"},
    )
    fresh = register(client, "pat@example.com")
    assert first.status_code == again.status_code == fresh.status_code == 202
    assert first.json() == again.json()
    assert first.json()["detail"] == fresh.json()["detail"]
    # The existing account is untouched: its password still works, the second one does not.
    assert token(client, "sam@example.com").status_code == 200
    assert token(client, "sam@example.com", "another long passphrase").status_code == 401


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"password": PASSWORD}, "email"),
    ],
)
def test_invalid_registration(client: TestClient, body: dict[str, str], where: str) -> None:
    response = client.post(f"{API}/auth/register", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{where}: ")


def test_wrong_password_and_unknown_user(client: TestClient) -> None:
    register(client, "kim@example.com")
    for email, password in (
        ("kim@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
    ):
        response = token(client, email, password)
        assert response.status_code == 401
        assert response.json() == {"detail": "wrong email or password"}
        assert response.headers["www-authenticate"] == "Bearer"


def test_missing_and_bad_tokens(client: TestClient, alice: Person, settings: Settings) -> None:
    status, detail = me(client, None)
    assert status == 401 and "sign in first" in detail
    issued = token(client, alice.email).json()["access_token"]
    claims = read_access_token(issued, settings.secret_key)
    assert claims is not None
    user, sid = claims.user_id, claims.session_id
    for bad in (
        "garbage",
        create_access_token(user, sid, "another-secret-another-secret-0123456789", 10),
        create_access_token(user, sid, settings.secret_key, -1),  # expired
        create_access_token(4242, sid, settings.secret_key, 10),  # another person's session
        create_access_token(user, 4242, settings.secret_key, 10),  # no such session
        jwt.encode({"sub": str(user), "exp": 9_999_999_999}, settings.secret_key, ALGORITHM),
    ):
        assert me(client, bad) == (401, "the access token is invalid or has expired; sign in again")
    assert me(client, create_access_token(user, sid, settings.secret_key, 10))[0] == 200


def test_inactive_user_is_locked_out(client: TestClient, alice: Person, runtime: Runtime) -> None:
    with Session(runtime.engine) as session:
        user = session.get(User, 1)
        assert user is not None
        user.is_active = False
        session.add(user)
        session.commit()
    assert alice.get("/users/me").status_code == 401
    assert token(client, alice.email).status_code == 401


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    secret = "tiny7"  # too short: refused, and must not come back in the answer
    response = client.post(
        f"{API}/auth/register", json={"email": "leak@example.com", "password": secret}
    )
    assert response.status_code == 422
    assert secret not in response.text
    assert response.json()["errors"][0]["loc"] == ["body", "password"]

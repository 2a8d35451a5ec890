"""Password rules: at least 10 characters, not a common one, not the email, printable; the
same rules for a new password; a clear 422 that never echoes the password."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.services.passwords import problem
from tests.helpers.app import API, PASSWORD, Person, token

RULES = [
    ("short1234", "password: String should have at least 10 characters"),
    ("          ", "password: must not be only spaces"),
    ("tab\tinside the password", "password: must not contain control characters"),
    ("nul\x00inside the password", "password: must not contain control characters"),
    ("new.person@example.com", "password: must not be your email address"),
    ("New.Person", "password: must not be your email address"),
    ("new.person2024!", "password: must not be your email address"),
    ("1234567890", "password: is one of the most common passwords"),
    ("Password2024!", "password: is one of the most common passwords"),
    ("QWERTYUIOP", "password: is one of the most common passwords"),
    ("iloveyou123", "password: is one of the most common passwords"),
]


@pytest.mark.parametrize(("password", "message"), RULES)
def test_registration_refuses_weak_passwords(
    client: TestClient, password: str, message: str
) -> None:
    response = client.post(
        f"{API}/auth/register", json={"email": "New.Person@example.com", "password": password}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(message)
    assert not password.strip() or password not in response.text  # never echoed
    assert token(client, "new.person@example.com", password).status_code == 401  # no account


def test_good_passwords_pass() -> None:
    for password in (PASSWORD, "dragonfly-season-2024", "Ünïcödé pässwörd", "ten chars!"):
        assert problem(password, "someone@example.com") is None


def test_a_new_password_follows_the_same_rules(alice: Person) -> None:
    for new, message in (
        ("short", "new_password: String should have at least 10 characters"),
        ("alice@example.com", "new_password: must not be your email address"),
        ("letmein12345", "new_password: is one of the most common passwords"),
    ):
        response = alice.post(
            "/users/me/password", json={"current_password": PASSWORD, "new_password": new}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith(message)
    assert alice.get("/users/me").status_code == 200  # still signed in, password unchanged
    assert token(alice.client, alice.email).status_code == 200

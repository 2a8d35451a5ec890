"""Password guessing is throttled per account and per client address, with Retry-After, on
/auth/token and /auth/login alike, and across API processes sharing the database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.models import LoginFailure
from backend.runtime import Runtime
from tests.helpers.app import API, PASSWORD, make_settings, register, service, token

WRONG = "not the password"


def login(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post(f"{API}/auth/login", json={"email": email, "password": password})


def assert_throttled(response: httpx.Response, window: int = 900) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"detail": "too many wrong passwords; wait before trying again"}
    assert 0 < int(response.headers["retry-after"]) <= window


def test_an_account_is_locked_after_five_wrong_passwords(client: TestClient) -> None:
    register(client, "kai@example.com")
    register(client, "lea@example.com")
    for _ in range(3):
        assert token(client, "kai@example.com", WRONG).status_code == 401
    for _ in range(2):  # the web sign-in counts towards the same limit
        assert login(client, "kai@example.com", WRONG).status_code == 401
    assert_throttled(token(client, "kai@example.com", WRONG))
    assert_throttled(token(client, "kai@example.com"))  # even the right password waits
    assert_throttled(login(client, "KAI@example.com ", PASSWORD))
    assert token(client, "lea@example.com").status_code == 200  # another account is not locked


def test_unknown_accounts_are_throttled_like_known_ones(client: TestClient) -> None:
    for _ in range(5):
        assert token(client, "ghost@example.com", WRONG).status_code == 401
    assert_throttled(token(client, "ghost@example.com", WRONG))


def test_the_right_password_forgets_the_account_failures(client: TestClient) -> None:
    register(client, "max@example.com")
    for _ in range(4):
        assert token(client, "max@example.com", WRONG).status_code == 401
    assert token(client, "max@example.com").status_code == 200
    for _ in range(4):
        assert token(client, "max@example.com", WRONG).status_code == 401
    assert token(client, "max@example.com").status_code == 200


def test_the_lock_lifts_once_failures_leave_the_window(
    client: TestClient, runtime: Runtime
) -> None:
    register(client, "ned@example.com")
    for _ in range(5):
        token(client, "ned@example.com", WRONG)
    assert_throttled(token(client, "ned@example.com"))
    with Session(runtime.engine) as session:  # 15 minutes pass
        for failure in session.exec(select(LoginFailure)).all():
            failure.at -= timedelta(minutes=15)
            session.add(failure)
        session.commit()
    assert token(client, "ned@example.com").status_code == 200


def test_one_address_guessing_many_accounts_is_throttled(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_LOGIN_FAILURES_PER_ADDRESS=3)
    with service(settings) as (client, _runtime):
        register(client, "ola@example.com")
        for n in range(3):
            assert token(client, f"user{n}@example.com", WRONG).status_code == 401
        assert_throttled(token(client, "other@example.com", WRONG))
        assert_throttled(token(client, "ola@example.com"))  # from this address, for now


def test_two_api_processes_share_the_count(tmp_path: Path) -> None:
    """Two services on one database, as two processes of a deployment would be."""
    settings = make_settings(tmp_path)
    with service(settings) as (first, _), service(make_settings(tmp_path)) as (second, _):
        register(first, "pia@example.com")
        for client in (first, second, first, second, first):
            assert token(client, "pia@example.com", WRONG).status_code == 401
        assert_throttled(token(second, "pia@example.com"))
        assert_throttled(token(first, "pia@example.com"))

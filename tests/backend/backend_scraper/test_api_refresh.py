"""A long scrape outlives its access token: the client renews it with the refresh token from
the real service and sends the batch again; a revoked session ends the run clearly."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.config import Settings
from backend.services.security import create_access_token, read_access_token
from backend_scraper.api import ApiClient
from backend_scraper.errors import ApiError
from tests.helpers.app import API, register, token


def expired_client(client: TestClient, settings: Settings, email: str) -> ApiClient:
    """An API client whose access token has just expired, with the session's refresh token."""
    register(client, email)
    issued = token(client, email).json()
    claims = read_access_token(issued["access_token"], settings.secret_key)
    assert claims is not None
    stale = create_access_token(claims.user_id, claims.session_id, settings.secret_key, -1)
    return ApiClient(
        "http://testserver",
        stale,
        min_interval=0,
        retries=0,
        transport=client._transport,
        refresh_token=issued["refresh_token"],
    )


ITEM = {"source_id": "x1", "filename": "x1.jpg", "url": "http://127.0.0.1:9/x1.jpg"}


def test_an_expired_token_is_renewed_and_the_batch_sent(
    client: TestClient, settings: Settings
) -> None:
    api = expired_client(client, settings, "long@example.com")
    stale = api.token
    answer = api.send([ITEM], {})
    assert answer.sent or answer.rejected  # the API answered the batch itself
    assert api.token != stale
    me = client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {api.token}"})
    assert me.json()["email"] == "long@example.com"


def test_a_revoked_session_is_not_renewed(client: TestClient, settings: Settings) -> None:
    api = expired_client(client, settings, "gone@example.com")
    fresh = token(client, "gone@example.com").json()["access_token"]
    everywhere = client.post(
        f"{API}/auth/logout",
        params={"everywhere": "true"},
        headers={"Authorization": f"Bearer {fresh}"},
    )
    assert everywhere.status_code == 204
    with pytest.raises(ApiError, match="refused the token"):
        api.send([ITEM], {})

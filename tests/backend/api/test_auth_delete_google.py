"""Deleting the account also revokes the person's Google Photos grant at Google (against a
fake Google on loopback), not only the tokens we kept."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.app import API, PASSWORD, Person
from tests.helpers.fake_google import connect, google_env


def test_deleting_the_account_revokes_the_google_grant(tmp_path: Path) -> None:
    with google_env(tmp_path / "data") as env:
        person = Person.sign_up(env.client, env.runtime, "gia@example.com")
        connect(person, env.fake, "gia@gmail.com")
        refresh = next(
            t for t, i in env.fake.refresh_tokens.items() if i["email"] == "gia@gmail.com"
        )
        response = env.client.request(
            "DELETE", f"{API}/users/me", json={"password": PASSWORD}, headers=person.headers
        )
        assert response.status_code == 204, response.text
        assert refresh in env.fake.revoked and env.fake.refresh_tokens[refresh]["revoked"]
        assert env.raw("SELECT count(*) FROM google_connection") == [(0,)]
        assert env.raw("SELECT count(*) FROM user WHERE email = 'gia@example.com'") == [(0,)]

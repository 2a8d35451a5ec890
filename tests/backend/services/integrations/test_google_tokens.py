"""Tokens at rest: Fernet ciphertexts, keys that rotate, and settings that refuse to run a
Google client without a key outside development."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from backend.config import Settings
from backend.services.integrations.crypto import TokenCipher, TokenUnreadable, derived_key
from backend.services.integrations.google import Credentials, rotate_tokens
from backend.services.integrations.google_oauth import email_of
from tests.helpers.app import make_settings
from tests.helpers.fake_google import CLIENT_ID, connect, google_env


def test_multifernet_reads_old_keys_and_writes_with_the_newest() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = TokenCipher([old]).encrypt("1//refresh")
    both = TokenCipher([new, old])
    assert both.decrypt(sealed) == "1//refresh"
    rotated = both.rotate(sealed)
    assert TokenCipher([new]).decrypt(rotated) == "1//refresh"
    with pytest.raises(TokenUnreadable):
        TokenCipher([old]).decrypt(rotated)


def test_rotating_the_stored_tokens_of_a_running_service(tmp_path: Path) -> None:
    with google_env(tmp_path / "data") as env:
        person = env.person("p")
        connect(person, env.fake, "rotate@gmail.com")
        ctx = env.runtime.ctx
        [(owner,)] = env.raw("SELECT id FROM user WHERE email = ?", person.email)
        [before] = env.raw("SELECT refresh_token_enc, access_token_enc FROM google_connection")

        new = Fernet.generate_key().decode()
        rotating = ctx.settings.model_copy(
            update={"token_encryption_key": SecretStr(f"{new},{derived_key(ctx.settings)}")}
        )
        assert rotate_tokens(dataclasses.replace(ctx, settings=rotating)) == 1
        [after] = env.raw("SELECT refresh_token_enc, access_token_enc FROM google_connection")
        assert after[0] != before[0] and after[1] != before[1]

        # Only the new key from now on: the tokens still work, the old key reads nothing.
        only_new = ctx.settings.model_copy(update={"token_encryption_key": SecretStr(new)})
        token = Credentials(dataclasses.replace(ctx, settings=only_new), owner).access_token()
        assert token in env.fake.access_tokens
        with pytest.raises(TokenUnreadable):
            TokenCipher([derived_key(ctx.settings)]).decrypt(str(after[0]))


def test_a_google_client_without_a_key_is_refused_in_production(tmp_path: Path) -> None:
    production = {
        "environment": "production",
        "DUPFINDER_SECRET_KEY": "x" * 48,
        "DUPFINDER_GOOGLE_CLIENT_ID": CLIENT_ID,
    }
    with pytest.raises(ValidationError, match="DUPFINDER_TOKEN_ENCRYPTION_KEY must be set"):
        make_settings(tmp_path, **production)
    key = Fernet.generate_key().decode()
    ok = make_settings(tmp_path, **production, DUPFINDER_TOKEN_ENCRYPTION_KEY=key)
    assert ok.token_encryption_keys == [key]
    with pytest.raises(ValidationError, match="must be a Fernet key"):
        make_settings(tmp_path, DUPFINDER_TOKEN_ENCRYPTION_KEY="not-a-key")
    # Development keeps working without one (a key derived from the secret key).
    assert isinstance(make_settings(tmp_path, DUPFINDER_GOOGLE_CLIENT_ID=CLIENT_ID), Settings)


def test_the_email_comes_from_the_id_token_payload() -> None:
    import jwt

    assert email_of(jwt.encode({"email": "a@gmail.com"}, "k" * 32, algorithm="HS256")) == (
        "a@gmail.com"
    )
    assert email_of("not a jwt") == "" and email_of(None) == ""

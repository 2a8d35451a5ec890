"""Password hashes and access tokens."""

from __future__ import annotations

import jwt

from backend.services.security import (
    ALGORITHM,
    create_access_token,
    hash_password,
    read_access_token,
    verify_password,
)

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def test_password_hashes() -> None:
    hashed = hash_password("hunter2hunter2")
    assert hashed.startswith("$argon2id$") and "hunter2" not in hashed
    assert verify_password("hunter2hunter2", hashed)
    assert not verify_password("hunter3hunter3", hashed)
    assert not verify_password("anything", "!")  # the scan user's unusable hash


def test_tokens() -> None:
    assert read_access_token(create_access_token(7, SECRET, 5), SECRET) == 7
    assert read_access_token(create_access_token(7, SECRET, -1), SECRET) is None
    assert read_access_token(create_access_token(7, SECRET, 5), SECRET + "x") is None
    no_expiry = jwt.encode({"sub": "7"}, SECRET, algorithm=ALGORITHM)
    assert read_access_token(no_expiry, SECRET) is None
    bad_subject = jwt.encode({"sub": "me", "exp": 9_999_999_999}, SECRET, algorithm=ALGORITHM)
    assert read_access_token(bad_subject, SECRET) is None
    assert read_access_token("not.a.token", SECRET) is None

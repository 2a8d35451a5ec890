"""Password hashes and access tokens."""

from __future__ import annotations

import jwt

from backend.services.security import (
    ALGORITHM,
    AccessClaims,
    create_access_token,
    csrf_token,
    digest,
    hash_password,
    new_secret,
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
    assert read_access_token(create_access_token(7, 3, SECRET, 5), SECRET) == AccessClaims(7, 3)
    assert read_access_token(create_access_token(7, 3, SECRET, -1), SECRET) is None
    assert read_access_token(create_access_token(7, 3, SECRET, 5), SECRET + "x") is None
    no_expiry = jwt.encode({"sub": "7", "sid": 3}, SECRET, algorithm=ALGORITHM)
    assert read_access_token(no_expiry, SECRET) is None
    bad_subject = jwt.encode({"sub": "me", "sid": 3, "exp": 9_999_999_999}, SECRET, ALGORITHM)
    assert read_access_token(bad_subject, SECRET) is None
    # A token of the time before sessions (no ``sid``) names no session: refused.
    no_session = jwt.encode({"sub": "7", "exp": 9_999_999_999}, SECRET, algorithm=ALGORITHM)
    assert read_access_token(no_session, SECRET) is None
    bad_session = jwt.encode({"sub": "7", "sid": "3", "exp": 9_999_999_999}, SECRET, ALGORITHM)
    assert read_access_token(bad_session, SECRET) is None
    assert read_access_token("not.a.token", SECRET) is None


def test_session_secrets_and_csrf_tokens() -> None:
    one, two = new_secret(), new_secret()
    assert one != two and len(one) >= 43  # 256 bits, url-safe
    assert digest(one) != one and len(digest(one)) == 64
    assert csrf_token(SECRET, one) != csrf_token(SECRET, two)
    assert csrf_token(SECRET, one) != csrf_token(SECRET + "x", one)

"""Password hashing (Argon2id), session secrets, signed access tokens (JWT, HS256), CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()  # Argon2id with the library's current parameters
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _hasher.verify(password, hashed)
    except Exception:  # an unusable hash (e.g. the local scan user) never verifies
        return False


def new_secret() -> str:
    """An opaque, unguessable session secret (256 bits)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the database keeps of a secret: a leaked table signs nobody in."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: int


def create_access_token(user_id: int, session_id: int, secret: str, minutes: int) -> str:
    """Short-lived; ``sid`` ties it to a server-side session, so revoking that session (sign
    out, a password change, account deletion) refuses the token at once."""
    now = datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "sid": session_id,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_access_token(token: str, secret: str) -> AccessClaims | None:
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "sid"]}
        )
        session_id = payload["sid"]
        if not isinstance(session_id, int) or isinstance(session_id, bool):
            return None
        return AccessClaims(user_id=int(payload["sub"]), session_id=session_id)
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None


def csrf_token(secret_key: str, session_secret: str) -> str:
    """Derived from the session, so a cookie planted by someone else never matches it."""
    mac = hmac.new(secret_key.encode(), b"csrf:" + session_secret.encode(), hashlib.sha256)
    return mac.hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

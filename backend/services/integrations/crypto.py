"""Tokens at rest: Fernet ciphertexts, with keys that rotate (MultiFernet, newest key first)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backend.config import Settings


class TokenCipher:
    """Encrypts with the first key; decrypts with any. ``rotate`` re-encrypts with the first."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("no token encryption key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        # Development and tests only without a key (the settings refuse production without
        # one): a key derived from this installation's secret key, so tokens are never plain.
        return cls(settings.token_encryption_keys or [derived_key(settings)])

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Raises ``TokenUnreadable`` when no configured key opens it."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise TokenUnreadable() from None

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()


def derived_key(settings: Settings) -> str:
    digest = hashlib.sha256(
        b"dupfinder google tokens\0" + settings.ensure_secret_key().encode()
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()


class TokenUnreadable(Exception):
    """A stored token that none of the configured keys decrypts (a key was dropped too soon)."""

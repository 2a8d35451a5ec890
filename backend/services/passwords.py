"""What a new password must be: long enough, not a well-known one, not the email, printable."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from backend.services.errors import Invalid

MIN_LENGTH = 10
_LIST = Path(__file__).with_name("common_passwords.txt")
_TAIL = "0123456789!@#$%^&*()-_=+.,;:?~ "  # what people append to a word to pass a rule


@cache
def common_passwords() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def problem(password: str, email: str) -> str | None:
    """Why ``password`` cannot be used by the person with ``email``; None when it can."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        return "must not contain control characters (tabs, line breaks...)"
    if not password.strip():
        return "must not be only spaces"
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters long"
    lowered = password.strip().lower()
    address = email.strip().lower()
    own = (address, address.partition("@")[0])
    if lowered in own or lowered.rstrip(_TAIL) in own:
        return "must not be your email address or its name part"
    common = common_passwords()
    if lowered in common or lowered.rstrip(_TAIL) in common:
        return "is one of the most common passwords; choose something less guessable"
    return None


def check(password: str, email: str, field: str = "password") -> None:
    """422 with a sentence naming the field, as the request validator words its messages."""
    reason = problem(password, email)
    if reason is not None:
        raise Invalid(f"{field}: {reason}")

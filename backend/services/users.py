"""Accounts: registration and password sign-in."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from backend.models import User
from backend.services.errors import Conflict, Unauthorized
from backend.services.security import hash_password, verify_password

# Verifying against this when the email is unknown keeps response times alike (no user probing).
_DUMMY_HASH = hash_password("not-a-real-password")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def register(session: Session, email: str, password: str, name: str) -> User:
    email = normalise_email(email)
    hashed = hash_password(password)  # slow on purpose: before the transaction starts
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise Conflict("an account with this email already exists")
    user = User(email=email, name=name.strip(), hashed_password=hashed)
    session.add(user)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # a concurrent registration won the race
        # The caller's transaction scope rolls back on the way out.
        raise Conflict("an account with this email already exists") from exc
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        raise Unauthorized("wrong email or password")
    if not verify_password(password, user.hashed_password) or not user.is_active:
        raise Unauthorized("wrong email or password")
    return user

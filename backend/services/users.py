"""Accounts: registration, password sign-in, password change, account deletion."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.models import Image, User
from backend.services import passwords, sessions
from backend.services.errors import Forbidden, Unauthorized
from backend.services.job_queue import enqueue_job
from backend.services.pipeline import DELETE_BLOBS
from backend.services.security import hash_password, verify_password

# Verifying against this when the email is unknown keeps response times alike (no user probing).
_DUMMY_HASH = hash_password("not-a-real-password")
WRONG = "wrong email or password"
_KEYS_PER_JOB = 500  # blob keys per deletion message (a library may hold 100k photos)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def register(session: Session, email: str, password: str, name: str) -> User | None:
    """The new account, or None when the email is already registered. The caller answers the
    same either way (the password is hashed either way, so the timing is alike too): nobody
    learns from this whether someone has an account here."""
    email = normalise_email(email)
    passwords.check(password, email)
    hashed = hash_password(password)  # slow on purpose: before the transaction writes
    if session.exec(select(User).where(User.email == email)).first() is not None:
        return None
    user = User(email=email, name=name.strip(), hashed_password=hashed)
    try:
        with session.begin_nested():  # a concurrent registration of the same email won
            session.add(user)
    except sa.exc.IntegrityError:
        return None
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        raise Unauthorized(WRONG)
    if not verify_password(password, user.hashed_password) or not user.is_active:
        raise Unauthorized(WRONG)
    return user


def change_password(
    session: Session, user_id: int, current: str, new: str, keep_session: int
) -> None:
    """Every other session of the person is revoked: whoever knew the old password is out."""
    user = session.get(User, user_id)
    assert user is not None  # the caller's session proved it exists
    passwords.check(new, user.email, "new_password")  # first: a weak choice is no wrong guess
    user = _with_password(session, user_id, current, "current_password")
    user.hashed_password = hash_password(new)
    session.add(user)
    sessions.revoke_all(session, user_id, keep=keep_session)


def confirm_password(session: Session, user_id: int, password: str) -> None:
    """403 unless ``password`` is the person's (before something irreversible)."""
    _with_password(session, user_id, password, "password")


def delete_account(session: Session, user_id: int) -> None:
    """The person and everything of theirs (rows cascade: images, groups, jobs, sessions,
    Google links). Their stored bytes are deleted once this commits, unless another image
    still uses the same bytes (content-addressed keys are shared)."""
    keys = [
        key
        for pair in session.execute(
            sa.select(col(Image.storage_key), col(Image.thumbnail_key)).where(
                col(Image.owner_id) == user_id
            )
        )
        for key in pair
        if key
    ]
    sessions.revoke_all(session, user_id)
    session.execute(sa.delete(User).where(col(User.id) == user_id))
    for start in range(0, len(keys), _KEYS_PER_JOB):
        enqueue_job(session, DELETE_BLOBS, keys=keys[start : start + _KEYS_PER_JOB])


def _with_password(session: Session, user_id: int, password: str, field: str) -> User:
    user = session.get(User, user_id)
    if user is None or not verify_password(password, user.hashed_password):
        # 403, not 401: the person is signed in; this is not a reason to sign them out.
        raise Forbidden(f"{field}: wrong password")
    return user

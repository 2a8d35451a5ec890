"""Server-side sign-in sessions: opened at sign-in, checked on every request, revoked by
deleting the row (sign out, sign out everywhere, a password change, account deletion)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.models import AuthSession, SessionKind, User, utcnow
from backend.services.security import digest, new_secret


@dataclass(frozen=True)
class Opened:
    id: int
    secret: str  # handed to the client once; the database keeps only its hash


def open_session(session: Session, user_id: int, kind: SessionKind, days: float) -> Opened:
    secret = new_secret()
    now = utcnow()
    row = AuthSession(
        user_id=user_id,
        kind=kind,
        secret_hash=digest(secret),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return Opened(row.id, secret)


def _live() -> sa.Select[AuthSession, User]:
    """Live sessions and their person, as of the bound ``now``."""
    return (
        sa.select(AuthSession, User)
        .join(User, col(User.id) == col(AuthSession.user_id))
        .where(col(AuthSession.expires_at) > sa.bindparam("now"), col(User.is_active).is_(True))
    )


# Built once: these run on every request, and building a statement (and its cache key) cost
# more CPU than running it.
_BY_SECRET = _live().where(
    col(AuthSession.secret_hash) == sa.bindparam("secret_hash"),
    col(AuthSession.kind) == sa.bindparam("kind"),
)
_BY_ID = _live().where(
    col(AuthSession.id) == sa.bindparam("session_id"),
    col(AuthSession.user_id) == sa.bindparam("user_id"),
)


def by_secret(session: Session, secret: str, kind: SessionKind) -> tuple[AuthSession, User] | None:
    """The live session holding this secret, and its person."""
    params = {"now": utcnow(), "secret_hash": digest(secret), "kind": kind}
    row = session.execute(_BY_SECRET, params).first()
    return None if row is None else (row[0], row[1])


def by_id(session: Session, session_id: int, user_id: int) -> tuple[AuthSession, User] | None:
    """The live session an access token names, if it still belongs to that person."""
    params = {"now": utcnow(), "session_id": session_id, "user_id": user_id}
    row = session.execute(_BY_ID, params).first()
    return None if row is None else (row[0], row[1])


def rotate(session: Session, secret: str, kind: SessionKind) -> tuple[Opened, int] | None:
    """A new secret for a live session (refresh), and its person: the old secret stops
    working."""
    found = by_secret(session, secret, kind)
    if found is None:
        return None
    row = found[0]
    fresh = new_secret()
    # Conditional on the old hash: of two refreshes racing with one secret, only one wins.
    done = session.execute(
        sa.update(AuthSession)
        .where(col(AuthSession.id) == row.id, col(AuthSession.secret_hash) == digest(secret))
        .values(secret_hash=digest(fresh))
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    assert row.id is not None
    return Opened(row.id, fresh), row.user_id


def revoke(session: Session, session_id: int) -> None:
    session.execute(sa.delete(AuthSession).where(col(AuthSession.id) == session_id))


def revoke_all(session: Session, user_id: int, keep: int | None = None) -> int:
    """Every session of the person (but ``keep``); how many were revoked."""
    stmt = sa.delete(AuthSession).where(col(AuthSession.user_id) == user_id)
    if keep is not None:
        stmt = stmt.where(col(AuthSession.id) != keep)
    result = session.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]


def forget_expired(session: Session) -> None:
    session.execute(sa.delete(AuthSession).where(col(AuthSession.expires_at) <= utcnow()))

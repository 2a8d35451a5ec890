"""Server-side sessions: found by secret or id while live, never after expiry, revocation or
rotation; expired rows are forgotten."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from backend.models import AuthSession, SessionKind, User
from backend.runtime import Runtime
from backend.services import sessions


def person(session: Session, email: str) -> int:
    user = User(email=email, hashed_password="!")
    session.add(user)
    session.flush()
    assert user.id is not None
    return user.id


def test_sessions_live_until_expired_or_revoked(runtime: Runtime) -> None:
    with runtime.ctx.session(write=True) as session:
        ann, bo = person(session, "ann@example.com"), person(session, "bo@example.com")
        first = sessions.open_session(session, ann, SessionKind.COOKIE, 30)
        second = sessions.open_session(session, ann, SessionKind.API, 30)
        other = sessions.open_session(session, bo, SessionKind.API, 30)

        found = sessions.by_secret(session, first.secret, SessionKind.COOKIE)
        assert found is not None and found[0].id == first.id and found[1].id == ann
        assert sessions.by_secret(session, first.secret, SessionKind.API) is None  # wrong kind
        assert sessions.by_secret(session, "guess", SessionKind.COOKIE) is None
        assert sessions.by_id(session, second.id, ann) is not None
        assert sessions.by_id(session, second.id, bo) is None  # someone else's session id

        row = session.get(AuthSession, first.id)
        assert row is not None
        row.expires_at -= timedelta(days=31)
        session.add(row)
        session.flush()
        assert sessions.by_secret(session, first.secret, SessionKind.COOKIE) is None
        sessions.forget_expired(session)
        assert session.get(AuthSession, first.id) is None

        rotated = sessions.rotate(session, second.secret, SessionKind.API)
        assert rotated is not None and rotated[0].id == second.id and rotated[1] == ann
        assert sessions.rotate(session, second.secret, SessionKind.API) is None  # used
        assert sessions.by_secret(session, rotated[0].secret, SessionKind.API) is not None

        assert sessions.revoke_all(session, ann) == 1
        assert sessions.by_id(session, second.id, ann) is None
        assert sessions.by_id(session, other.id, bo) is not None  # Bo is not touched


def test_an_inactive_person_has_no_live_session(runtime: Runtime) -> None:
    with runtime.ctx.session(write=True) as session:
        cy = person(session, "cy@example.com")
        opened = sessions.open_session(session, cy, SessionKind.API, 1)
        user = session.get(User, cy)
        assert user is not None
        user.is_active = False
        session.add(user)
        session.flush()
        assert sessions.by_id(session, opened.id, cy) is None

"""Sign-in sessions (revocable server-side) and the failed sign-ins that throttle guessing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from backend.models.base import str_enum, timestamp, utcnow


class SessionKind(StrEnum):
    COOKIE = "cookie"  # the web UI: the secret lives in an HttpOnly cookie
    API = "api"  # bearer clients: the secret is the refresh token; access tokens name the row


class AuthSession(SQLModel, table=True):
    """One signed-in device. Only a hash of its secret is stored, so a copy of the database
    signs nobody in; deleting the row signs the device out at once."""

    __tablename__ = "auth_session"
    __table_args__ = {"sqlite_autoincrement": True}  # a revoked id is never handed out again
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    kind: SessionKind = Field(sa_type=str_enum(SessionKind))
    secret_hash: str = Field(max_length=64, unique=True)  # sha256 hex of the secret
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())
    expires_at: datetime = Field(sa_type=timestamp(), index=True)


class LoginFailure(SQLModel, table=True):
    """A wrong password (or one being checked right now), by account and by client address;
    shared by every API process through the database."""

    __tablename__ = "login_failure"
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=320, index=True)  # the email as typed, normalised
    address: str = Field(max_length=64, index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=timestamp(), index=True)

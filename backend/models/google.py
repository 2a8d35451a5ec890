"""A person's Google Photos connection, the OAuth states in flight and their picks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.models.base import str_enum, timestamp, utcnow


class GoogleConnection(SQLModel, table=True):
    """One per person. Tokens are Fernet ciphertexts (services/integrations/crypto.py)."""

    __tablename__ = "google_connection"
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", unique=True)
    email: str = Field(default="", max_length=320)  # the Google account, from the id_token
    scopes: str = Field(default="", max_length=1000)  # space-separated, as Google granted
    refresh_token_enc: str = Field(sa_type=sa.Text)
    access_token_enc: str | None = Field(default=None, sa_type=sa.Text)
    access_token_expires_at: datetime | None = Field(default=None, sa_type=timestamp())
    # Google no longer accepts the grant (revoked, unused for six months...): connect again.
    needs_reconnect: bool = False
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())


class GoogleOAuthState(SQLModel, table=True):
    """A connect in flight: the ``state`` names the person; single-use, expiring in minutes."""

    __tablename__ = "google_oauth_state"
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    state: str = Field(max_length=128, unique=True)
    code_verifier: str = Field(max_length=128)  # PKCE (S256): proves the callback is ours
    redirect_uri: str = Field(max_length=2048)
    expires_at: datetime = Field(sa_type=timestamp())


class PickState(StrEnum):
    WAITING = "waiting"  # for the person to pick in Google's picker
    IMPORTING = "importing"
    DONE = "done"
    EXPIRED = "expired"  # the person did not finish picking before the session timed out
    FAILED = "failed"  # ``error`` says why (e.g. Google access was revoked)


PICK_OPEN = (PickState.WAITING, PickState.IMPORTING)


class GooglePick(SQLModel, table=True):
    """One Google Photos Picker session and the import of what was picked in it."""

    __tablename__ = "google_pick"
    __table_args__ = {"sqlite_autoincrement": True}
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    job_id: int | None = Field(default=None, foreign_key="job.id", ondelete="SET NULL")
    google_session_id: str = Field(max_length=200)
    picker_uri: str = Field(max_length=2048)
    # Still open at Google (deleted once done with, as Google asks).
    session_open: bool = True
    state: PickState = Field(default=PickState.WAITING, sa_type=str_enum(PickState))
    poll_seconds: float = 5.0
    next_poll_at: datetime | None = Field(default=None, sa_type=timestamp())
    expires_at: datetime = Field(sa_type=timestamp())  # the session's timeoutIn
    picked: int = 0  # items the person picked (photos and videos)
    imported: int = 0  # new photos stored in the library
    already_present: int = 0  # photos imported before (the same Google item)
    skipped: int = 0  # videos and other items not imported
    failed: int = 0
    # [{"id", "filename", "reason"}] for items skipped or failed: never retried on a resume.
    problems: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())
    finished_at: datetime | None = Field(default=None, sa_type=timestamp())

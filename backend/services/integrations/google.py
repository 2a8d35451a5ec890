"""Use cases of a person's Google connection: connect (OAuth with PKCE), its status, disconnect,
and the access token an import uses (refreshed when needed, encrypted at rest)."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

from authlib.common.security import generate_token
from sqlmodel import Session, col, delete, select

from backend.config import Settings
from backend.models import GoogleConnection, GoogleOAuthState, utcnow
from backend.services.context import AppContext
from backend.services.errors import AppError
from backend.services.integrations.crypto import TokenCipher, TokenUnreadable
from backend.services.integrations.google_oauth import GoogleOAuth, GrantGone, OAuthFailed, Tokens

log = logging.getLogger(__name__)

STATE_MINUTES = 10
CALLBACK_PATH = "/api/v1/integrations/google/callback"
RECONNECT = (
    "Google no longer accepts this app's access to your Google Photos (it was revoked, or it "
    "expired). Connect Google Photos again to continue."
)
UNREADABLE = (
    "the stored Google access can no longer be decrypted (the encryption key changed); "
    "connect Google Photos again"
)


class GoogleOff(AppError):
    status_code = 503

    def __init__(self) -> None:
        super().__init__(
            "Google Photos is not configured on this server: an administrator must set "
            "DUPFINDER_GOOGLE_CLIENT_ID and DUPFINDER_GOOGLE_CLIENT_SECRET (an OAuth client "
            "from the Google Cloud console) and DUPFINDER_TOKEN_ENCRYPTION_KEY; see the "
            'README\'s "Google Photos" section'
        )


class NotConnected(AppError):
    status_code = 409

    def __init__(self, message: str = "connect Google Photos first") -> None:
        super().__init__(message)


class ReconnectNeeded(AppError):
    status_code = 409

    def __init__(self, message: str = RECONNECT) -> None:
        super().__init__(message)


def require_enabled(settings: Settings) -> None:
    if not settings.google_enabled:
        raise GoogleOff()


def start_connect(session: Session, settings: Settings, owner_id: int, redirect_uri: str) -> str:
    """A fresh single-use state bound to the person, and Google's authorisation URL."""
    require_enabled(settings)
    now = utcnow()
    session.execute(
        delete(GoogleOAuthState).where(
            col(GoogleOAuthState.owner_id) == owner_id, col(GoogleOAuthState.expires_at) < now
        )
    )
    state = GoogleOAuthState(
        owner_id=owner_id,
        state=secrets.token_urlsafe(32),
        code_verifier=generate_token(64),  # RFC 7636: 43-128 unreserved characters
        redirect_uri=redirect_uri,
        expires_at=now + timedelta(minutes=STATE_MINUTES),
    )
    session.add(state)
    session.flush()
    return GoogleOAuth(settings).authorization_url(
        state.state, state.code_verifier, state.redirect_uri
    )


def finish_connect(ctx: AppContext, state: str, code: str) -> int:
    """The callback: the state is used up first (a replay finds nothing), then the code is
    exchanged with the PKCE verifier and the tokens stored encrypted. Returns the person."""
    require_enabled(ctx.settings)
    with ctx.session(write=True) as session:
        row = session.exec(select(GoogleOAuthState).where(GoogleOAuthState.state == state)).first()
        if row is not None:
            session.delete(row)
    if row is None or row.expires_at < utcnow():
        raise AppError("this Google sign-in link is unknown, used or expired; connect again")
    tokens = GoogleOAuth(ctx.settings).exchange(code, row.code_verifier, row.redirect_uri)
    cipher = TokenCipher.from_settings(ctx.settings)
    assert tokens.refresh_token is not None
    with ctx.session(write=True) as session:
        conn = session.exec(
            select(GoogleConnection).where(GoogleConnection.owner_id == row.owner_id)
        ).first() or GoogleConnection(owner_id=row.owner_id, refresh_token_enc="")
        conn.email = tokens.email
        conn.scopes = tokens.scope
        conn.refresh_token_enc = cipher.encrypt(tokens.refresh_token)
        _store_access(conn, tokens, cipher)
        conn.needs_reconnect, conn.last_error = False, None
        session.add(conn)
    return row.owner_id


def _store_access(conn: GoogleConnection, tokens: Tokens, cipher: TokenCipher) -> None:
    conn.access_token_enc = cipher.encrypt(tokens.access_token)
    conn.access_token_expires_at = tokens.expires_at
    conn.updated_at = utcnow()


def get_connection(session: Session, owner_id: int) -> GoogleConnection | None:
    return session.exec(
        select(GoogleConnection).where(GoogleConnection.owner_id == owner_id)
    ).first()


def disconnect(ctx: AppContext, owner_id: int) -> bool:
    """Revoke the grant at Google (which ends its access tokens too) and forget the tokens.
    Forgets them even when Google cannot be reached: the person asked us to."""
    require_enabled(ctx.settings)
    with ctx.session() as session:
        conn = get_connection(session, owner_id)
    if conn is None:
        return False
    try:
        refresh = TokenCipher.from_settings(ctx.settings).decrypt(conn.refresh_token_enc)
        GoogleOAuth(ctx.settings).revoke(refresh)
    except (TokenUnreadable, OAuthFailed) as exc:
        log.warning("revoking person %d's Google grant failed: %s", owner_id, exc)
    with ctx.session(write=True) as session:
        session.execute(delete(GoogleConnection).where(col(GoogleConnection.owner_id) == owner_id))
    return True


def rotate_tokens(ctx: AppContext) -> int:
    """Re-encrypt every stored token with the newest key (after adding one in front)."""
    cipher = TokenCipher.from_settings(ctx.settings)
    count = 0
    with ctx.session(write=True) as session:
        for conn in session.exec(select(GoogleConnection)):
            conn.refresh_token_enc = cipher.rotate(conn.refresh_token_enc)
            if conn.access_token_enc:
                conn.access_token_enc = cipher.rotate(conn.access_token_enc)
            session.add(conn)
            count += 1
    return count


@dataclass
class Credentials:
    """One person's access token for one import: read from the database, refreshed when it is
    (nearly) expired or when Google answers 401. Never another person's: bound to ``owner_id``."""

    ctx: AppContext
    owner_id: int

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cipher = TokenCipher.from_settings(self.ctx.settings)
        self._access: str | None = None

    def _load(self) -> GoogleConnection:
        with self.ctx.session() as session:
            conn = get_connection(session, self.owner_id)
        if conn is None:
            raise NotConnected(
                "Google Photos is not connected (or was disconnected); connect it to import"
            )
        if conn.needs_reconnect:
            raise ReconnectNeeded(conn.last_error or RECONNECT)
        return conn

    def check(self) -> None:
        self._load()

    def access_token(self) -> str:
        with self._lock:
            if self._access is None:
                conn = self._load()
                expires = conn.access_token_expires_at
                if conn.access_token_enc and expires and expires > utcnow() + timedelta(seconds=60):
                    try:
                        self._access = self._cipher.decrypt(conn.access_token_enc)
                    except TokenUnreadable:
                        self._access = None
                if self._access is None:
                    self._access = self._refresh(conn)
            return self._access

    def refresh(self) -> str:
        """After a 401: a new access token from the refresh token."""
        with self._lock:
            self._access = self._refresh(self._load())
            return self._access

    def _refresh(self, conn: GoogleConnection) -> str:
        try:
            refresh = self._cipher.decrypt(conn.refresh_token_enc)
        except TokenUnreadable:
            self._mark_reconnect(UNREADABLE)
            raise ReconnectNeeded(UNREADABLE) from None
        try:
            tokens = GoogleOAuth(self.ctx.settings).refresh(refresh)
        except GrantGone:
            self._mark_reconnect(RECONNECT)
            raise ReconnectNeeded(RECONNECT) from None
        with self.ctx.session(write=True) as session:
            fresh = get_connection(session, self.owner_id)
            if fresh is None:
                raise NotConnected(
                    "Google Photos is not connected (or was disconnected); connect it to import"
                )
            _store_access(fresh, tokens, self._cipher)
            if tokens.refresh_token:  # Google rotated it (rare): keep the new one
                fresh.refresh_token_enc = self._cipher.encrypt(tokens.refresh_token)
            fresh.last_error = None
            session.add(fresh)
        return tokens.access_token

    def _mark_reconnect(self, message: str) -> None:
        with self.ctx.session(write=True) as session:
            conn = get_connection(session, self.owner_id)
            if conn is not None:
                conn.needs_reconnect, conn.last_error = True, message
                conn.updated_at = utcnow()
                session.add(conn)

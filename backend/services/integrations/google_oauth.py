"""Google's OAuth 2.0 for web-server apps, through Authlib: authorise (PKCE S256, offline access),
exchange the code, refresh, revoke. Tokens never reach a log line or an error message."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
from authlib.integrations.base_client.errors import OAuthError

from backend.config import Settings
from backend.models import utcnow

with warnings.catch_warnings():
    # Authlib 1.9 would rather have the "httpx2" fork; httpx is what this project uses and
    # what Authlib still supports.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

log = logging.getLogger(__name__)

PICKER_SCOPE = "https://www.googleapis.com/auth/photospicker.mediaitems.readonly"
SCOPES = ("openid", "email", PICKER_SCOPE)
TIMEOUT = httpx.Timeout(20.0, connect=10.0)


class GrantGone(Exception):
    """Google no longer accepts the grant (``invalid_grant``): the person must connect again."""


class OAuthFailed(Exception):
    """Google refused or could not be reached; ``str()`` is safe to show (no token in it)."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_at: datetime
    refresh_token: str | None  # None on a refresh: Google keeps the one it gave at first
    scope: str
    email: str = ""

    def __repr__(self) -> str:  # never print the tokens
        return f"Tokens(expires_at={self.expires_at!r}, scope={self.scope!r})"


def email_of(id_token: str | None) -> str:
    """The account's email from an ID token read straight from Google's token endpoint over
    TLS: its origin is the connection itself, so no signature check (and no key fetch)."""
    if not id_token:
        return ""
    try:
        claims: dict[str, Any] = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return ""
    email = claims.get("email")
    return email if isinstance(email, str) else ""


class GoogleOAuth:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _client(self, redirect_uri: str | None = None) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.settings.google_client_id,
            client_secret=self.settings.google_client_secret.get_secret_value(),
            token_endpoint_auth_method="client_secret_post",
            revocation_endpoint_auth_method="client_secret_post",
            redirect_uri=redirect_uri,
            scope=" ".join(SCOPES) if redirect_uri else None,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )

    def authorization_url(self, state: str, code_verifier: str, redirect_uri: str) -> str:
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.settings.google_authorize_url,
                state=state,
                code_verifier=code_verifier,
                access_type="offline",  # a refresh token, for imports that outlive the hour
                prompt="consent",  # ...given again on every connect
                include_granted_scopes="true",
            )
        return str(url)

    def exchange(self, code: str, code_verifier: str, redirect_uri: str) -> Tokens:
        with self._client(redirect_uri) as client:
            try:
                token = self._call(
                    lambda: client.fetch_token(
                        self.settings.google_token_url,
                        grant_type="authorization_code",
                        code=code,
                        code_verifier=code_verifier,
                        redirect_uri=redirect_uri,
                    )
                )
            except GrantGone:
                raise OAuthFailed(
                    "Google did not accept the sign-in (the code was used, expired or did not "
                    "match this request); connect again"
                ) from None
        if not token.get("refresh_token"):
            raise OAuthFailed("Google gave no offline access; please connect again")
        return _tokens(token, email_of(token.get("id_token")))

    def refresh(self, refresh_token: str) -> Tokens:
        with self._client() as client:
            token = self._call(
                lambda: client.refresh_token(
                    self.settings.google_token_url, refresh_token=refresh_token
                )
            )
        # Authlib fills in the old refresh token when Google sends none: report what Google sent.
        fresh = token.get("refresh_token")
        return _tokens(token, "", None if fresh == refresh_token else fresh)

    def revoke(self, token: str) -> None:
        with self._client() as client:
            try:
                response = client.revoke_token(self.settings.google_revoke_url, token=token)
            except httpx.HTTPError as exc:
                raise OAuthFailed(f"Google could not be reached ({type(exc).__name__})") from None
        # 400 invalid_token: already revoked or expired, which is what was wanted.
        if response.status_code >= 500:
            raise OAuthFailed(f"Google answered HTTP {response.status_code} to the revocation")

    @staticmethod
    def _call(fn: Any) -> dict[str, Any]:
        try:
            token: dict[str, Any] = dict(fn())
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                raise GrantGone() from None
            log.warning("Google's token endpoint refused: %s", exc.error)
            raise OAuthFailed(f"Google refused the request ({exc.error})") from None
        except httpx.HTTPStatusError as exc:
            raise OAuthFailed(
                f"Google's sign-in service answered HTTP {exc.response.status_code}; "
                "please try again in a moment"
            ) from None
        except (httpx.HTTPError, ValueError) as exc:
            raise OAuthFailed(
                f"Google's sign-in service could not be reached ({type(exc).__name__}); "
                "please try again in a moment"
            ) from None
        return token


def _tokens(token: dict[str, Any], email: str, refresh: str | None = "") -> Tokens:
    expires_in = float(token.get("expires_in") or 3600)
    return Tokens(
        access_token=str(token["access_token"]),
        expires_at=utcnow() + timedelta(seconds=expires_in),
        refresh_token=token.get("refresh_token") if refresh == "" else refresh,
        scope=str(token.get("scope") or ""),
        email=email,
    )

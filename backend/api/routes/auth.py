"""Sign-up, sign-in (session cookie or bearer tokens), refresh, sign-out, the account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from backend.api.auth_schemas import (
    AccountDeleteIn,
    LoginIn,
    LoginOut,
    PasswordChangeIn,
    RefreshIn,
    RegisteredOut,
    RegisterIn,
    TokenOut,
)
from backend.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CtxDep,
    CurrentUser,
    SignedInDep,
    client_address,
)
from backend.api.schemas import ErrorOut, UserOut
from backend.models import SessionKind, User
from backend.services import login_throttle, sessions, users
from backend.services.context import AppContext
from backend.services.errors import Unauthorized
from backend.services.integrations import google
from backend.services.security import create_access_token, csrf_token

router = APIRouter(tags=["auth"])

Address = Annotated[str, Depends(client_address)]
SIGN_IN_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Wrong email or password"},
    429: {"model": ErrorOut, "description": "Too many wrong passwords; see Retry-After"},
}
ACCOUNT_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Not signed in"},
    403: {"model": ErrorOut, "description": "Wrong password, or a missing CSRF header"},
    429: {"model": ErrorOut, "description": "Too many wrong passwords; see Retry-After"},
}


def _user_out(user: User) -> UserOut:
    assert user.id is not None
    return UserOut(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


def _sign_in(ctx: AppContext, email: str, password: str, address: str) -> User:
    """The person, once throttling allows a guess and the password is right."""
    account = users.normalise_email(email)[:320]
    login_throttle.begin_attempt(ctx, account, address)
    with ctx.session() as session:
        user = users.authenticate(session, email, password)
    login_throttle.succeeded(ctx, account)
    return user


def _tokens(ctx: AppContext, user_id: int, opened: sessions.Opened) -> TokenOut:
    minutes = ctx.settings.access_token_minutes
    access = create_access_token(user_id, opened.id, ctx.settings.secret_key, minutes)
    return TokenOut(access_token=access, expires_in=minutes * 60, refresh_token=opened.secret)


def _clear_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")


@router.post(
    "/auth/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegisteredOut,
    responses={422: {"model": ErrorOut, "description": "The email or password is not usable"}},
)
def register(body: RegisterIn, ctx: CtxDep) -> RegisteredOut:
    """The same answer whether or not the email is registered already (and about the same
    time: the password is hashed either way), so this cannot be used to find out who has an
    account. A new account can sign in at once."""
    with ctx.session(write=True) as session:
        users.register(session, body.email, body.password, body.name)
    return RegisteredOut(
        email=users.normalise_email(body.email),
        detail="if this email was not registered yet, its account is ready: sign in",
    )


@router.post("/auth/login", response_model=LoginOut, responses=SIGN_IN_ERRORS)
def login(
    body: LoginIn, request: Request, response: Response, ctx: CtxDep, address: Address
) -> LoginOut:
    """The web UI's sign-in: an HttpOnly session cookie, and a CSRF token (also a cookie
    readable by the page) that unsafe requests must send back as X-CSRF-Token."""
    user = _sign_in(ctx, body.email, body.password, address)
    assert user.id is not None
    with ctx.session(write=True) as session:
        sessions.forget_expired(session)
        opened = sessions.open_session(
            session, user.id, SessionKind.COOKIE, ctx.settings.session_days
        )
    csrf = csrf_token(ctx.settings.secret_key, opened.secret)
    secure = request.url.scheme == "https"
    max_age = int(ctx.settings.session_days * 86400)
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=secure, samesite="strict"
    )
    return LoginOut(user=_user_out(user), csrf_token=csrf)


@router.post("/auth/token", response_model=TokenOut, responses=SIGN_IN_ERRORS)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: CtxDep, address: Address
) -> TokenOut:
    """For API clients (the scraper, scripts): a short-lived bearer access token and a refresh
    token, both tied to a new server-side session."""
    user = _sign_in(ctx, form.username, form.password, address)
    assert user.id is not None
    with ctx.session(write=True) as session:
        opened = sessions.open_session(session, user.id, SessionKind.API, ctx.settings.session_days)
    return _tokens(ctx, user.id, opened)


@router.post(
    "/auth/refresh",
    response_model=TokenOut,
    responses={401: {"model": ErrorOut, "description": "Unknown, used or revoked token"}},
)
def refresh(body: RefreshIn, ctx: CtxDep) -> TokenOut:
    """A new access token and a new refresh token; the refresh token sent stops working."""
    with ctx.session(write=True) as session:
        rotated = sessions.rotate(session, body.refresh_token, SessionKind.API)
    if rotated is None:
        raise Unauthorized("the refresh token is invalid, used or revoked; sign in again")
    opened, user_id = rotated
    return _tokens(ctx, user_id, opened)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=ACCOUNT_ERRORS)
def logout(
    who: SignedInDep,
    ctx: CtxDep,
    response: Response,
    everywhere: Annotated[bool, Query(description="sign out every device")] = False,
) -> None:
    """Revokes this session (the cookie, or the bearer token and its refresh token) at once;
    ``everywhere``: every session of the person."""
    assert who.user.id is not None
    with ctx.session(write=True) as session:
        if everywhere:
            sessions.revoke_all(session, who.user.id)
        else:
            sessions.revoke(session, who.session_id)
    _clear_cookies(response)


@router.get("/users/me", response_model=UserOut, responses={401: {"model": ErrorOut}})
def me(user: CurrentUser) -> UserOut:
    return _user_out(user)


@router.post("/users/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=ACCOUNT_ERRORS)
def change_password(
    body: PasswordChangeIn, who: SignedInDep, ctx: CtxDep, address: Address
) -> None:
    """Every other session of the person is signed out; this one stays."""
    assert who.user.id is not None
    login_throttle.begin_attempt(ctx, who.user.email, address)
    with ctx.session(write=True) as session:
        users.change_password(
            session, who.user.id, body.current_password, body.new_password, who.session_id
        )
    login_throttle.succeeded(ctx, who.user.email)


@router.delete("/users/me", status_code=status.HTTP_204_NO_CONTENT, responses=ACCOUNT_ERRORS)
def delete_me(
    body: AccountDeleteIn, who: SignedInDep, ctx: CtxDep, address: Address, response: Response
) -> None:
    """Deletes the person's account, photos (their stored files too), groups, jobs, Google
    link and sessions; every token and cookie of theirs stops working at once."""
    assert who.user.id is not None
    login_throttle.begin_attempt(ctx, who.user.email, address)
    with ctx.session() as session:
        users.confirm_password(session, who.user.id, body.password)
    login_throttle.succeeded(ctx, who.user.email)
    if ctx.settings.google_enabled:  # Google's grant is revoked too, not only forgotten
        google.disconnect(ctx, who.user.id)
    with ctx.session(write=True) as session:
        users.delete_account(session, who.user.id)
    _clear_cookies(response)

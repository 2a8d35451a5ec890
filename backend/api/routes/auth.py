from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from backend.api.deps import CtxDep, CurrentUser, ReadSessionDep, SessionDep
from backend.api.schemas import ErrorOut, RegisterIn, TokenOut, UserOut
from backend.models import User
from backend.services import users
from backend.services.security import create_access_token

router = APIRouter(tags=["auth"])


def _user_out(user: User) -> UserOut:
    assert user.id is not None
    return UserOut(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={409: {"model": ErrorOut, "description": "Email already registered"}},
)
def register(body: RegisterIn, session: SessionDep) -> UserOut:
    user = users.register(session, body.email, body.password, body.name)
    return _user_out(user)


@router.post("/auth/token", response_model=TokenOut, responses={401: {"model": ErrorOut}})
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: ReadSessionDep, ctx: CtxDep
) -> TokenOut:
    user = users.authenticate(session, form.username, form.password)
    assert user.id is not None
    settings = ctx.settings
    return TokenOut(
        access_token=create_access_token(
            user.id, settings.secret_key, settings.access_token_minutes
        )
    )


@router.get("/users/me", response_model=UserOut, responses={401: {"model": ErrorOut}})
def me(user: CurrentUser) -> UserOut:
    return _user_out(user)

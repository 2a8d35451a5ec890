"""Request and response bodies of sign-up, sign-in, sessions and the account."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field

from backend.api.schemas import UserOut
from backend.services.passwords import MIN_LENGTH

# Length is checked here (the validator's own message); the other rules in services/passwords.
NewPassword = Field(min_length=MIN_LENGTH, max_length=256)


class RegisterIn(BaseModel):
    email: EmailStr
    password: str = NewPassword
    name: str = Field(default="", max_length=200)


class RegisteredOut(BaseModel):
    """The same whether or not the email already had an account (nothing to learn here)."""

    email: str
    detail: str


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class LoginOut(BaseModel):
    user: UserOut
    # Also in the dupfinder_csrf cookie: send it back as X-CSRF-Token on every POST, PUT,
    # PATCH and DELETE made with the session cookie.
    csrf_token: str


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int  # seconds the access token is valid for
    refresh_token: str  # POST /api/v1/auth/refresh for a new pair; revoked by sign-out


class RefreshIn(BaseModel):
    refresh_token: str = Field(max_length=200)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = NewPassword


class AccountDeleteIn(BaseModel):
    password: str = Field(max_length=256)

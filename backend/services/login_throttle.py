"""Throttling password guesses per account and per client address. The failures live in the
database, so every API process (and every Celery-mode replica) sees the same counts."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.config import Settings
from backend.models import LoginFailure, utcnow
from backend.services.context import AppContext
from backend.services.errors import TooManyRequests


@dataclass(frozen=True)
class Limits:
    window: timedelta
    per_account: int
    per_address: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            timedelta(seconds=settings.login_window_seconds),
            settings.login_failures_per_account,
            settings.login_failures_per_address,
        )


def _serialise(session: Session, account: str) -> None:
    """Guesses at one account take turns, so concurrent ones cannot all pass the count. SQLite
    already serialises writers; PostgreSQL takes a transaction-scoped advisory lock."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"login:" + account.encode()).digest()[:8], "big")
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key - 2**63)))


def begin_attempt(ctx: AppContext, account: str, address: str) -> None:
    """Refuses with 429 (and Retry-After) while the account or the address is over its limit;
    otherwise counts this attempt as a failure up front, so guesses sent in parallel are all
    counted. ``succeeded`` clears the account's count."""
    limits = Limits.of(ctx.settings)
    with ctx.session(write=True) as session:
        _serialise(session, account)
        now = utcnow()
        since = now - limits.window
        session.execute(sa.delete(LoginFailure).where(col(LoginFailure.at) < since))
        for column, value, limit in (
            (LoginFailure.account, account, limits.per_account),
            (LoginFailure.address, address, limits.per_address),
        ):
            recent = list(
                session.execute(
                    sa.select(col(LoginFailure.at))
                    .where(col(column) == value, col(LoginFailure.at) >= since)
                    .order_by(col(LoginFailure.at).desc())
                    .limit(limit)
                ).scalars()
            )
            if len(recent) >= limit:
                # Allowed again once the limit-th most recent failure leaves the window.
                wait = math.ceil((recent[-1] + limits.window - now).total_seconds())
                raise TooManyRequests(
                    "too many wrong passwords; wait before trying again", max(1, wait)
                )
        session.add(LoginFailure(account=account, address=address[:64], at=now))


def succeeded(ctx: AppContext, account: str) -> None:
    """The right password: the account's failures are forgotten (the address keeps its own)."""
    with ctx.session(write=True) as session:
        session.execute(sa.delete(LoginFailure).where(col(LoginFailure.account) == account))

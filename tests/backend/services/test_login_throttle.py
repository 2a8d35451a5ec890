"""Guesses sent at the same moment are all counted: exactly the allowed number get through,
on SQLite (one writer at a time) and on PostgreSQL (an advisory lock per account)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.errors import TooManyRequests
from backend.services.login_throttle import begin_attempt, succeeded
from tests.helpers.app import make_settings
from tests.helpers.postgres import temporary_database

GUESSES = 16


def guess_at_once(ctx: AppContext, account: str) -> list[bool]:
    """Whether each of GUESSES parallel guesses was let through to the password check."""

    def one(_: int) -> bool:
        try:
            begin_attempt(ctx, account, "192.0.2.1")
        except TooManyRequests as exc:
            assert exc.retry_after > 0
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(GUESSES)))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_parallel_guesses_are_all_counted(tmp_path: Path, database: str) -> None:
    with temporary_database() if database == "postgresql" else _nothing() as url:
        overrides = {"DATABASE_URL": url} if url else {}
        runtime = build_runtime(make_settings(tmp_path, **overrides), embedded=True)
        try:
            ctx = runtime.ctx
            assert sum(guess_at_once(ctx, "target@example.com")) == 5
            assert sum(guess_at_once(ctx, "someone@example.com")) == 5  # per account
            succeeded(ctx, "target@example.com")
            assert sum(guess_at_once(ctx, "target@example.com")) == 5
        finally:
            runtime.close()


class _nothing:
    def __enter__(self) -> str:
        return ""

    def __exit__(self, *exc: object) -> None:
        return None

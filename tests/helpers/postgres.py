"""A throwaway PostgreSQL database on the local server, or a clear skip when there is none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(
            host=HOST, port=PORT, user=USER, dbname="postgres", connect_timeout=3, autocommit=True
        )
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {HOST}:{PORT} as {USER} ({exc})")


@contextmanager
def temporary_database() -> Iterator[str]:
    """Yields a SQLAlchemy URL of a new, uniquely named database; drops it afterwards."""
    name = f"dupfinder_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{USER}@{HOST}:{PORT}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""PostgreSQL 18 with pgvector for the database tests: one server per session, one database
per test (see tests/helpers/pgvector.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.pgvector import EmbeddedServer, embedded_pgvector


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[EmbeddedServer]:
    """A throwaway PostgreSQL 18 + pgvector server, started once per session (or a skip)."""
    with embedded_pgvector() as server:
        yield server


@pytest.fixture
def pgvector_url(pgvector_server: EmbeddedServer) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty database on that server, dropped afterwards."""
    with pgvector_server.temporary_database() as url:
        yield url

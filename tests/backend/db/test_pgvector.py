"""The pgvector migration: the extension on a server that has it, a warning on one without."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from backend.db.migrate import alembic_config, upgrade
from tests.backend.db.test_migrations import TABLES, drift, tables
from tests.helpers.pgvector import EmbeddedServer
from tests.helpers.postgres import temporary_database

MIGRATION_LOGGER = "backend.migrations.0002_pgvector"


def scalar(url: str, sql: str) -> object:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def vector_version(url: str) -> object:
    return scalar(url, "SELECT extversion FROM pg_extension WHERE extname = 'vector'")


def test_server_is_postgresql_18_with_pgvector(pgvector_server: EmbeddedServer) -> None:
    assert "PostgreSQL) 18." in pgvector_server.version
    with pgvector_server.connect() as conn:
        (host,) = conn.execute("SHOW listen_addresses").fetchone() or ("",)
        (sockets,) = conn.execute("SHOW unix_socket_directories").fetchone() or ("x",)
    assert (host, sockets) == ("127.0.0.1", "")


def test_up_down_up_creates_and_drops_the_extension(pgvector_url: str) -> None:
    upgrade(pgvector_url)
    assert vector_version(pgvector_url) is not None
    assert tables(pgvector_url) == TABLES
    assert drift(pgvector_url) == []

    command.downgrade(alembic_config(pgvector_url), "base")
    assert vector_version(pgvector_url) is None
    assert tables(pgvector_url) == set()

    upgrade(pgvector_url)
    assert vector_version(pgvector_url) is not None
    assert tables(pgvector_url) == TABLES
    assert drift(pgvector_url) == []


def test_vector_distance(pgvector_url: str) -> None:
    upgrade(pgvector_url)
    assert scalar(pgvector_url, "SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector") == 1.0


def test_an_extension_created_beforehand_is_kept(pgvector_url: str) -> None:
    """A DBA may create it for an application role that may not (pgvector is not trusted)."""
    upgrade(pgvector_url, "0001")
    engine = sa.create_engine(pgvector_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION vector"))
    engine.dispose()
    upgrade(pgvector_url)
    assert vector_version(pgvector_url) is not None


def test_a_server_without_pgvector_still_migrates(caplog: pytest.LogCaptureFixture) -> None:
    """The Debian PostgreSQL the other tests use has no pgvector: a warning, not a failure."""
    with temporary_database() as url:
        if scalar(url, "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"):
            pytest.skip("the local PostgreSQL has pgvector; this test needs one without")
        with caplog.at_level(logging.WARNING, logger=MIGRATION_LOGGER):
            upgrade(url)
        assert vector_version(url) is None
        assert tables(url) == TABLES
        assert drift(url) == []
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert scalar(url, "SELECT version_num FROM alembic_version") == head
        (record,) = [r for r in caplog.records if r.name == MIGRATION_LOGGER]
        assert record.levelno == logging.WARNING
        assert "pgvector is not available" in record.getMessage()

        command.downgrade(alembic_config(url), "base")  # DROP EXTENSION IF EXISTS: no error
        assert tables(url) == set()


@pytest.mark.parametrize(
    ("url", "expected"),
    [("postgresql+psycopg://u@h/db", True), ("sqlite:///unused.sqlite3", False)],
)
def test_offline_sql(url: str, expected: bool, capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(alembic_config(url), "head", sql=True)
    assert ("CREATE EXTENSION IF NOT EXISTS vector" in capsys.readouterr().out) is expected

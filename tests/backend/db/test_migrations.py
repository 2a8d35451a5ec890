"""Migrations go up, down and up again, and leave exactly the schema the models describe."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import SAWarning
from sqlmodel import SQLModel

import backend.models  # noqa: F401  (registers every table)
from backend.db.migrate import alembic_config, upgrade
from backend.services.similarity.pgvector import include_object
from tests.helpers.postgres import temporary_database

TABLES = {
    "user",
    "job",
    "image",
    "image_pair",
    "image_embedding",
    "image_object",
    "duplicate_group",
    "group_member",
    "group_decision",
    "pair_decision",
    "regroup_mark",
    "google_connection",
    "google_oauth_state",
    "google_pick",
    "auth_session",
    "login_failure",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    else:
        with temporary_database() as url:
            yield url


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def drift(url: str) -> list[object]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            # As env.py does: the pgvector column of revision 0004 is not in the models.
            opts = {"compare_type": True, "include_object": include_object}
            context = MigrationContext.configure(conn, opts=opts)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Did not recognize type 'vector'", SAWarning)
                return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def test_up_down_up_without_drift(database_url: str) -> None:
    cfg = alembic_config(database_url)
    upgrade(database_url)
    assert tables(database_url) == TABLES
    assert drift(database_url) == []

    command.downgrade(cfg, "base")
    assert tables(database_url) == set()

    upgrade(database_url)
    assert tables(database_url) == TABLES
    assert drift(database_url) == []
    upgrade(database_url)  # already at head: nothing to do, no error


def test_models_match_a_fresh_create_all(database_url: str) -> None:
    """The migration and ``create_all`` build the same tables (guards hand edits)."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        SQLModel.metadata.create_all(engine)
        assert tables(database_url) == TABLES
        assert drift(database_url) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["sqlite:///unused.sqlite3", "postgresql+psycopg://u@h/db"])
def test_offline_sql_for_a_dba(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(alembic_config(url), "head", sql=True)
    sql = capsys.readouterr().out
    assert 'CREATE TABLE "user"' in sql or "CREATE TABLE user" in sql
    assert "CREATE TABLE image_pair" in sql and "alembic_version" in sql

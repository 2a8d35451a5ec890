"""A new SQLite database is made from the models in one step and stamped at the head: the very
schema the migrations build (Alembic stays the source of truth; this guards the shortcut)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from backend.db.migrate import alembic_config, head_revision, prepare_database, upgrade
from tests.helpers.postgres import temporary_database


def schema(url: str) -> dict[str, Any]:
    """Every table's columns (by name: a fresh table lists them in the models' order, a
    migrated one in the order they were added), keys, indexes and constraints."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        return {
            table: {
                "columns": {
                    c["name"]: (str(c["type"]), c["nullable"], c.get("default"))
                    for c in insp.get_columns(table)
                },
                "pk": insp.get_pk_constraint(table),
                "fk": sorted(
                    (
                        str(fk["name"]),
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        tuple(fk["referred_columns"]),
                        sorted(fk["options"].items()),
                    )
                    for fk in insp.get_foreign_keys(table)
                ),
                "unique": sorted(
                    (str(u["name"]), tuple(u["column_names"]))
                    for u in insp.get_unique_constraints(table)
                ),
                "checks": sorted(
                    (str(c["name"]), c["sqltext"]) for c in insp.get_check_constraints(table)
                ),
            }
            for table in insp.get_table_names()
        }
    finally:
        engine.dispose()


def index_sql(path: Path) -> dict[str, str]:
    """Indexes as SQLite stores them (partial indexes keep their WHERE here only)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
        return {name: " ".join((sql or "").replace('"', "").split()) for name, sql in rows}


def revision(url: str) -> str | None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def test_head_read_from_the_scripts_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert head_revision() == script.get_current_head()


def test_fresh_database_equals_the_migrated_one(tmp_path: Path) -> None:
    migrated, fresh = tmp_path / "migrated.sqlite3", tmp_path / "fresh.sqlite3"
    upgrade(f"sqlite:///{migrated}")
    assert prepare_database(f"sqlite:///{fresh}") == "created"
    assert schema(f"sqlite:///{fresh}") == schema(f"sqlite:///{migrated}")
    assert index_sql(fresh) == index_sql(migrated)
    assert revision(f"sqlite:///{fresh}") == revision(f"sqlite:///{migrated}") == head_revision()
    assert prepare_database(f"sqlite:///{fresh}") == "current"


def test_an_older_database_is_migrated_step_by_step(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0011")
    assert prepare_database(url) == "migrated"
    assert revision(url) == head_revision()
    assert prepare_database(url) == "current"


def test_postgresql_is_migrated_then_left_alone() -> None:
    """No shortcut for a new PostgreSQL database (pgvector's column is the migrations' own)."""
    with temporary_database() as url:
        assert prepare_database(url) == "migrated"
        assert revision(url) == head_revision()
        assert prepare_database(url) == "current"

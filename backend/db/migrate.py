"""Apply Alembic migrations from code (start-up, tests) with the package's own scripts.

Alembic is the source of truth for the schema. Start-up (``prepare_database``) avoids paying for
it where nothing needs migrating: a database already at the head revision is left alone without
loading Alembic, and a new, empty SQLite file is created from the models in one step and stamped
at the head (tests check that this is the very schema the migrations build).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from backend.db.engine import make_engine, writer

if TYPE_CHECKING:
    from alembic.config import Config

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(.+)$", re.M)


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Every migration step from the database's revision to ``revision`` (plain Alembic)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def head_revision(versions: Path = ALEMBIC_DIR / "versions") -> str:
    """The head of the linear chain, read from the scripts' text (loading them through
    Alembic costs more than a whole empty scan); more than one head is an error."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(text)
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1) if down else ""))
    heads = sorted(revisions - parents)
    if len(heads) != 1:
        raise RuntimeError(f"expected one head revision in {versions}, found {heads}")
    return heads[0]


def stored_revision(connection: sa.Connection) -> str | None:
    """The revision the database says it is at; None for a database Alembic never touched."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def create_fresh_sqlite(connection: sa.Connection, revision: str) -> None:
    """The models' tables in an empty SQLite database, stamped at ``revision`` as
    ``alembic stamp`` would (its table, its constraint name)."""
    from sqlmodel import SQLModel

    import backend.models  # noqa: F401  (registers every table)

    SQLModel.metadata.create_all(connection)
    connection.execute(
        sa.text(
            f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
            f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
        )
    )
    connection.execute(
        sa.text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": revision}
    )


def prepare_database(database_url: str) -> str:
    """Bring the database to the head revision the quickest safe way; says which way."""
    head = head_revision()
    engine = make_engine(database_url)
    try:
        # SQLite: the write lock first, so two processes starting on a new file do not both
        # create it (the second waits, then finds it stamped). Its DDL is transactional.
        with writer(engine).begin() as connection:
            current = stored_revision(connection)
            if current == head:
                return "current"
            if connection.dialect.name == "sqlite" and not sa.inspect(connection).get_table_names():
                create_fresh_sqlite(connection, head)
                return "created"
    finally:
        engine.dispose()
    upgrade(database_url)
    return "migrated"

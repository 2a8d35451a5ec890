"""Sessions and the SQLite engine's settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from backend.db.engine import make_engine, writer
from backend.db.migrate import upgrade
from backend.db.session import session_scope
from backend.models import User


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url)
    return make_engine(url)


def test_sqlite_pragmas(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_session_scope_commits_or_rolls_back(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        session.add(User(email="kept@example.com", hashed_password="!"))
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            session.add(User(email="dropped@example.com", hashed_password="!"))
            session.flush()
            raise RuntimeError("abort")
    with Session(engine) as session:
        assert [u.email for u in session.exec(select(User))] == ["kept@example.com"]


def test_foreign_keys_are_enforced(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        with session_scope(engine) as session:
            session.execute(
                sa.text(
                    "INSERT INTO job (owner_id, kind, state, total, done, failed, created_at, "
                    "updated_at) VALUES (999, 'upload', 'queued', 0, 0, 0, '2020-01-01', "
                    "'2020-01-01')"
                )
            )


def test_server_engine_is_lazy() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert engine.dialect.name == "postgresql"  # no connection until first use
    engine.dispose()


def test_writers_take_the_lock_up_front(engine: sa.Engine) -> None:
    assert writer(engine).get_execution_options()["sqlite_begin"] == "IMMEDIATE"
    assert engine.url.database is not None
    other = sqlite3.connect(engine.url.database, timeout=0.05, isolation_level=None)
    try:
        with writer(engine).begin() as holding:
            holding.execute(sa.text("SELECT 1"))  # only a read, yet the write lock is held
            # Readers are not blocked by the writer (WAL); another writer is.
            assert other.execute("SELECT count(*) FROM user").fetchone() == (0,)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.execute("ROLLBACK")
    finally:
        other.close()

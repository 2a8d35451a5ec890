"""The database engine for either mode; the few SQLite/PostgreSQL differences live here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def private_sqlite_file(database_url: str) -> None:
    """Create a new SQLite database file 0600 (in folders 0700) before SQLite does: it would
    make it readable by everyone (0644), and its -wal and -shm files copy the file's mode."""
    database = sa.engine.make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    for folder in reversed([p for p in path.parents if not p.exists()]):
        folder.mkdir(mode=0o700, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # an existing database keeps the mode its owner gave it


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        private_sqlite_file(database_url)
        engine = sa.create_engine(
            database_url,
            # The embedded worker's threads share the engine; SQLite serialises writers itself.
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _begin)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            # A transaction that reads and then writes cannot wait for the lock once another
            # writer committed after its read: SQLite fails it at once with "database is
            # locked". Writers therefore take the write lock up front (BEGIN IMMEDIATE).
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return sa.create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def writer(engine: Engine) -> Engine:
    """The engine for transactions that will write (no effect outside SQLite)."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")

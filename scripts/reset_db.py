"""`make reset-db`: empty the database named by the settings, then the caller migrates it.

- SQLite (the embedded default): deletes the database file (and its -wal/-shm files).
- PostgreSQL: drops the database (closing its connections) and creates it again, empty.

Stored images (DUPFINDER_STORAGE_DIR / DUPFINDER_STORAGE_URL) are left alone.
Asks for confirmation unless --yes is given; without a terminal it then refuses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from backend.config import Settings


def confirm(what: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print(f"reset-db: would {what}; run again with YES=1 (or --yes) to do it", file=sys.stderr)
        return False
    answer = input(f"This will {what}. Continue? [y/N] ")
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("reset-db: nothing done")
    return False


def reset_sqlite(database: str, yes: bool) -> int:
    path = Path(database)
    files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    if not files:
        print(f"reset-db: {path} does not exist; nothing to delete")
        return 0
    if not confirm(f"DELETE the SQLite database {path} (every user, image and decision)", yes):
        return 1
    for p in files:
        p.unlink()
    print(f"reset-db: deleted {path}")
    return 0


def reset_postgres(url: sa.URL, yes: bool) -> int:
    name = url.database
    if not name:
        print("reset-db: DATABASE_URL names no database", file=sys.stderr)
        return 2
    shown = url.render_as_string(hide_password=True)
    if not confirm(f"DROP and re-create the PostgreSQL database {shown}", yes):
        return 1
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = '"' + name.replace('"', '""') + '"'
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    finally:
        admin.dispose()
    print(f"reset-db: dropped and re-created {shown}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yes", action="store_true", help="do not ask")
    args = parser.parse_args()
    url = make_url(Settings().database_url)
    if url.get_backend_name() == "sqlite":
        return reset_sqlite(url.database or "", args.yes)
    if url.get_backend_name() == "postgresql":
        return reset_postgres(url, args.yes)
    print(f"reset-db: unsupported database {url.get_backend_name()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

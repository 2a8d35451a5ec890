"""INSERT … ON CONFLICT DO NOTHING on either database (rows another transaction may add too)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session


def insert_missing(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``; those whose key already exists are left as they are."""
    if not rows:
        return
    # The dialect in use only: loading PostgreSQL's costs a SQLite scan a tenth of its start.
    name = "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"
    dialect = importlib.import_module(f"sqlalchemy.dialects.{name}")
    session.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))

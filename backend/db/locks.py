"""Per-owner locks for work that must not run twice at once (one owner's grouping).

On PostgreSQL a transaction-scoped advisory lock serialises the workers of every machine; on
SQLite the writer already holds the database's one write lock (BEGIN IMMEDIATE), which is
stricter still. This is the one place the two differ.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

GROUPING = 1  # the lock's class: one number per kind of per-owner work


def lock_owner(session: Session, owner_id: int, purpose: int = GROUPING) -> None:
    """Wait for, then hold until the transaction ends, the lock on this owner's ``purpose``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text("SELECT pg_advisory_xact_lock(:purpose, :owner)"),
            {"purpose": purpose, "owner": owner_id},
        )

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.models.base import str_enum, timestamp, utcnow


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(SQLModel, table=True):
    """Progress of one batch (an upload, a folder scan): images done and failed of total."""

    __table_args__ = {"sqlite_autoincrement": True}  # ids of deleted rows are never reused
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=32)
    state: JobState = Field(default=JobState.QUEUED, sa_type=str_enum(JobState))
    total: int = 0
    done: int = 0
    failed: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())
    finished_at: datetime | None = Field(default=None, sa_type=timestamp())
    # A summary, or why the whole batch failed (e.g. a hostile Takeout archive).
    message: str | None = Field(default=None, max_length=2000)
    # Files left out on purpose ([{"name", "reason"}]: videos, photos in the trash…).
    # The server default is the migration's (rows before 0010); a fresh create_all has it too.
    skipped: list[dict[str, Any]] = Field(
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"server_default": sa.text("'[]'")}
    )

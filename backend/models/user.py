from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.models.base import timestamp, utcnow


class User(SQLModel, table=True):
    __table_args__ = {"sqlite_autoincrement": True}  # ids of deleted rows are never reused
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    name: str = Field(default="", max_length=200)
    hashed_password: str = Field(max_length=255)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())

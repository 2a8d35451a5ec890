from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.models.base import timestamp, utcnow


class ImageEmbedding(SQLModel, table=True):
    """A model's vector for an image; the model's identity travels with it so a model change
    re-embeds instead of mixing vector spaces."""

    __tablename__ = "image_embedding"
    __table_args__ = (
        sa.UniqueConstraint("image_id", "model_name", name="uq_embedding_model"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    image_id: int = Field(foreign_key="image.id", ondelete="CASCADE", index=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    model_name: str = Field(max_length=120)
    dimension: int
    vector: bytes = Field(sa_type=sa.LargeBinary)  # float32, little-endian
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())

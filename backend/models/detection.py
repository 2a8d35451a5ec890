from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class ImageObject(SQLModel, table=True):
    """An object a detector found in an image: label, confidence and box (fractions of the
    upright image, so they hold at any display size). The detector's identity is kept so a
    model change re-detects."""

    __tablename__ = "image_object"
    __table_args__ = (
        sa.Index("ix_image_object_owner_label", "owner_id", "label"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    image_id: int = Field(foreign_key="image.id", ondelete="CASCADE", index=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    model_name: str = Field(max_length=120)
    label: str = Field(max_length=64)
    confidence: float
    x0: float
    y0: float
    x1: float
    y1: float

"""Task: delete stored bytes that no image refers to any more (after a deletion committed)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col

from backend.models import Image
from backend.services.context import AppContext


def delete_unreferenced(ctx: AppContext, keys: list[str]) -> None:
    """Idempotent. A key is kept while any image uses it: another upload of the same bytes may
    have arrived after the deletion that queued this (content-addressed keys are shared)."""
    if not keys:
        return
    with ctx.session() as session:
        used = set(
            session.execute(
                sa.select(col(Image.storage_key)).where(col(Image.storage_key).in_(keys))
            ).scalars()
        ) | set(
            session.execute(
                sa.select(col(Image.thumbnail_key)).where(col(Image.thumbnail_key).in_(keys))
            ).scalars()
        )
    for key in keys:
        if key not in used:
            ctx.store.delete(key)  # a folder scan's own files (file: keys) are never deleted

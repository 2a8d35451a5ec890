"""The blank canvas of images analysed before it was measured (migration 0015).

The keeper rules count a picture's detail, not its canvas (``core.canvas``); images extracted
before then have no blank share, and a copy of theirs turned or framed on a larger canvas would
keep winning on pixels. Their stored thumbnails (what extraction measures it on) are measured
at start-up, with the other backfills.
"""

from __future__ import annotations

import io
import logging

import sqlalchemy as sa
from PIL import Image as PILImage
from sqlmodel import Session, col

from backend.core.canvas import blank_share
from backend.models import Image
from backend.services.context import AppContext
from backend.services.storage.blobstore import BlobNotFound

log = logging.getLogger(__name__)

WRITE_BATCH = 500  # rows per write transaction: short locks on a busy library


def backfill_blank_share(ctx: AppContext, limit: int = 20_000) -> int:
    """Measure up to ``limit`` images that have a thumbnail but no blank share; returns how
    many were measured (the next start-up goes on where this one stopped)."""
    with Session(ctx.engine) as session:
        rows = session.execute(
            sa.select(col(Image.id), col(Image.thumbnail_key))
            .where(col(Image.blank_share).is_(None), col(Image.thumbnail_key).is_not(None))
            .order_by(col(Image.id))
            .limit(limit)
        ).all()
    measured: list[dict[str, object]] = []
    for image_id, key in rows:
        try:
            with PILImage.open(io.BytesIO(ctx.store.get(key))) as thumbnail:
                share = round(blank_share(thumbnail), 3)
        except (BlobNotFound, OSError, ValueError) as exc:
            # Counted as none, as before, and not tried again at every start.
            log.warning("image %s: blank canvas not measured, no thumbnail (%r)", image_id, exc)
            share = 0.0
        measured.append({"id": image_id, "blank_share": share})
    for start in range(0, len(measured), WRITE_BATCH):
        with ctx.session(write=True) as session:
            # Updates by primary key, many rows in one statement.
            session.execute(sa.update(Image), measured[start : start + WRITE_BATCH])
    if measured:
        log.info("measured the blank canvas of %d image(s) analysed before it was", len(measured))
    return len(measured)

"""Use cases on one image: read it, its bytes and thumbnail, delete it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.models import Image, ImageState
from backend.services.context import AppContext
from backend.services.errors import Conflict, NotFound
from backend.services.grouping.update import TASK_NAME as GROUP
from backend.services.jobs import release_from_job
from backend.services.objects import images_showing
from backend.services.scoping import get_owned, owned_query
from backend.services.storage.blobstore import BlobNotFound


def list_images(
    session: Session,
    owner_id: int,
    state: ImageState | None,
    trashed: bool,
    page: int,
    size: int,
    showing: str | None = None,
) -> tuple[list[Image], int]:
    stmt = owned_query(Image, owner_id).where(
        col(Image.trashed_at).is_not(None) if trashed else col(Image.trashed_at).is_(None)
    )
    if state is not None:
        stmt = stmt.where(Image.state == state)
    if showing:
        stmt = stmt.where(col(Image.id).in_(images_showing(owner_id, showing)))
    total = session.exec(select(sa.func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(col(Image.id)).offset((page - 1) * size).limit(size)).all()
    return list(rows), total


def get_image(session: Session, owner_id: int, image_id: int) -> Image:
    return get_owned(session, Image, owner_id, image_id, "image")


def read_original(ctx: AppContext, image: Image) -> bytes:
    if image.state not in (ImageState.HASHED, ImageState.ANALYSED, ImageState.READY):
        # Only files that proved to be pictures are served back (never arbitrary bytes).
        raise Conflict(f"image {image.id} has no picture to show (status: {image.state.value})")
    try:
        return ctx.store.get(image.storage_key)
    except BlobNotFound as exc:
        raise NotFound(f"the file of image {image.id} is no longer stored") from exc


def read_thumbnail(ctx: AppContext, image: Image) -> bytes:
    if image.thumbnail_key is None:
        raise NotFound(f"image {image.id} has no thumbnail yet (state: {image.state})")
    try:
        return ctx.store.get(image.thumbnail_key)
    except BlobNotFound as exc:
        raise NotFound(f"the thumbnail of image {image.id} is missing") from exc


def delete_image(session: Session, ctx: AppContext, owner_id: int, image_id: int) -> None:
    image = get_image(session, owner_id, image_id)
    key, thumb = image.storage_key, image.thumbnail_key
    release_from_job(session, image)
    session.delete(image)
    session.flush()
    shared = session.exec(
        select(sa.func.count()).select_from(Image).where(col(Image.storage_key) == key)
    ).one()
    session.commit()
    ctx.jobs.enqueue(GROUP, owner_id=owner_id, force=True)  # regrouping is serialised per owner
    # Bytes go only after the rows are gone, and only if no other image uses the same blob.
    if not shared:
        ctx.store.delete(key)
    if thumb:
        ctx.store.delete(thumb)

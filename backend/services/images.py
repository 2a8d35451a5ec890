"""Use cases on one image: read it, its bytes and thumbnail, delete it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col

from backend.models import Image, ImageState
from backend.services.context import AppContext
from backend.services.errors import Conflict, NotFound
from backend.services.grouping.marks import mark_neighbours
from backend.services.job_queue import enqueue_job
from backend.services.jobs import release_from_job
from backend.services.objects import images_showing
from backend.services.pagination import paginate
from backend.services.pipeline import DELETE_BLOBS, GROUP
from backend.services.scoping import get_owned, owned_query
from backend.services.storage.blobstore import BlobNotFound

CHUNK = 1000  # ids per IN list, keys per deletion job


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
    return paginate(session, stmt.order_by(col(Image.id)), page, size)


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


def delete_image(session: Session, owner_id: int, image_id: int) -> None:
    delete_images(session, owner_id, [get_image(session, owner_id, image_id)])


def delete_images(session: Session, owner_id: int, doomed: Sequence[Image]) -> None:
    """Once the deletion commits, the person's groups are rebuilt without the images and their
    bytes are deleted (unless another image has the same bytes)."""
    if not doomed:
        return
    ids = [i.id for i in doomed if i.id is not None]
    keys = [k for i in doomed for k in (i.storage_key, i.thumbnail_key) if k]
    for start in range(0, len(ids), CHUNK):
        mark_neighbours(session, owner_id, ids[start : start + CHUNK])  # groups lose members
    for image in doomed:
        release_from_job(session, image)
        session.delete(image)
    session.flush()
    enqueue_job(session, GROUP, owner_id=owner_id)  # serialised per owner
    for start in range(0, len(keys), CHUNK):
        enqueue_job(session, DELETE_BLOBS, keys=keys[start : start + CHUNK])

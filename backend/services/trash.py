"""Use cases on the trash: list it, put photos back, empty it for good."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col
from sqlmodel.sql.expression import SelectOfScalar

from backend.models import Image
from backend.services.errors import NotFound
from backend.services.grouping.marks import mark_for_regroup
from backend.services.images import delete_images
from backend.services.job_queue import enqueue_job
from backend.services.pagination import paginate
from backend.services.pipeline import GROUP
from backend.services.scoping import owned_query


def _trashed(owner_id: int) -> SelectOfScalar[Image]:
    return owned_query(Image, owner_id).where(col(Image.trashed_at).is_not(None))


def list_trash(session: Session, owner_id: int, page: int, size: int) -> tuple[list[Image], int]:
    """The person's trashed photos, the most recently trashed first."""
    stmt = _trashed(owner_id).order_by(col(Image.trashed_at).desc(), col(Image.id).desc())
    return paginate(session, stmt, page, size)


def restore(session: Session, owner_id: int, image_ids: Collection[int]) -> int:
    """Take the photos out of the trash; grouping then shows them again where they belong.
    Another person's id, like an unknown one, is a 404 and nothing is restored. Returns how
    many were in the trash."""
    wanted = sorted(set(image_ids))
    found = session.exec(owned_query(Image, owner_id).where(col(Image.id).in_(wanted))).all()
    missing = sorted(set(wanted) - {i.id for i in found})
    if missing:
        raise NotFound(f"image(s) {missing} were not found")
    back = [i for i in found if i.trashed_at is not None]
    for image in back:
        image.trashed_at = None
        session.add(image)
    if back:
        session.flush()
        mark_for_regroup(session, owner_id, [i.id for i in back if i.id is not None])
        enqueue_job(session, GROUP, owner_id=owner_id)
    return len(back)


def empty(session: Session, owner_id: int) -> tuple[int, int]:
    """Delete every trashed photo for good (their files once this commits): how many, and
    their bytes."""
    doomed = session.exec(_trashed(owner_id)).all()
    freed = sum(i.size_bytes for i in doomed)
    delete_images(session, owner_id, doomed)
    return len(doomed), freed

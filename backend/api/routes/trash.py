from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import CurrentUser, SessionDep, owner_id
from backend.api.params import PageNo
from backend.api.schemas import EmptiedOut, ErrorOut, ImageOut, Page, RestoredOut, RestoreIn
from backend.services import trash
from backend.services.objects import objects_of

router = APIRouter(prefix="/trash", tags=["trash"])


@router.get("", response_model=Page[ImageOut])
def list_trash(
    user: CurrentUser,
    session: SessionDep,
    page: PageNo = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[ImageOut]:
    """The trashed photos, the most recently trashed first."""
    rows, total = trash.list_trash(session, owner_id(user), page, size)
    found = objects_of(session, [i.id for i in rows if i.id is not None])
    items = [ImageOut.of(i, found.get(i.id or 0, [])) for i in rows]
    return Page(items=items, total=total, page=page, size=size)


@router.post("/restore", response_model=RestoredOut, responses={404: {"model": ErrorOut}})
def restore(body: RestoreIn, user: CurrentUser, session: SessionDep) -> RestoredOut:
    """Put photos back: they show in their groups again (404, nothing restored, when an id is
    not one of your photos)."""
    return RestoredOut(restored=trash.restore(session, owner_id(user), body.image_ids))


@router.delete("", response_model=EmptiedOut)
def empty(user: CurrentUser, session: SessionDep) -> EmptiedOut:
    """Delete the trashed photos for good; their files go once this has committed."""
    deleted, freed = trash.empty(session, owner_id(user))
    return EmptiedOut(deleted=deleted, bytes_freed=freed)

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import CurrentUser, SessionDep, owner_id
from backend.api.params import DecisionId
from backend.api.schemas import DecisionOut, ErrorOut
from backend.services import undo as undoing

router = APIRouter(prefix="/decisions", tags=["duplicates"])
ERRORS: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


@router.post("/{decision_id}/undo", response_model=DecisionOut, responses=ERRORS)
def undo(decision_id: DecisionId, user: CurrentUser, session: SessionDep) -> DecisionOut:
    """Take back a resolve or a dismiss: the trashed photos come back and the group reopens
    (409 when it was undone already, or its photos were deleted from the trash for good)."""
    record = undoing.undo(session, owner_id(user), decision_id)
    return DecisionOut.of(record, undoes=decision_id)

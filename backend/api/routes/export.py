from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from backend.api.deps import CtxDep, CurrentUser, SessionDep, owner_id
from backend.services import export as exporting

router = APIRouter(prefix="/export", tags=["duplicates"])


@router.get(
    "",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def export(
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Response:
    """Your open groups (with the suggestion: keep, trash, or review for similar shots) and
    your past decisions (keep, trash; undone ones say so), each photo with its file name,
    source and the link back to it (Google Photos), as a file to download."""
    rows = exporting.export(session, owner_id(user), ctx.settings.keeper_rules)
    if format == "csv":
        body, media = exporting.as_csv(rows), "text/csv; charset=utf-8"
    else:
        body, media = json.dumps(exporting.as_json(rows), indent=1), "application/json"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="dupfinder-export.{format}"'},
    )

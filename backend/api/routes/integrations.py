"""API mode: connect a person's Google Photos (OAuth 2.0 with PKCE) and import what they pick."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import col

from backend.api.deps import CtxDep, CurrentUser, SessionDep, owner_id
from backend.api.errors import AUTH_RESPONSES
from backend.api.params import PickId
from backend.api.schemas import ErrorOut
from backend.models import GooglePick
from backend.services.errors import AppError
from backend.services.ingestion.google_picks import start_pick
from backend.services.integrations.google import (
    disconnect,
    finish_connect,
    get_connection,
    require_enabled,
    start_connect,
)
from backend.services.integrations.google_oauth import OAuthFailed
from backend.services.scoping import get_owned, owned_query

log = logging.getLogger(__name__)
router = APIRouter(prefix="/integrations/google", tags=["integrations"])
AUTHED: dict[int | str, dict[str, Any]] = dict(AUTH_RESPONSES)
OFF: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "Google Photos is not configured on this server"}
}


class ConnectOut(BaseModel):
    authorization_url: str


class GoogleStatusOut(BaseModel):
    connected: bool
    email: str | None = None
    scopes: list[str] = Field(default_factory=list)
    needs_reconnect: bool = False
    last_error: str | None = None


class PickProblem(BaseModel):
    filename: str
    reason: str
    kind: str  # "skipped" (videos) or "failed"


class PickOut(BaseModel):
    id: int
    job_id: int | None
    picker_uri: str  # open in a new tab (never an iframe); "/autoclose" closes it when done
    state: str
    picked: int
    imported: int
    already_present: int
    skipped: int
    failed: int
    problems: list[PickProblem]
    error: str | None
    expires_at: datetime
    created_at: datetime
    finished_at: datetime | None
    notice: str | None = None


def pick_out(pick: GooglePick, notice: str | None = None) -> PickOut:
    assert pick.id is not None
    uri = pick.picker_uri.rstrip("/")
    return PickOut(
        id=pick.id,
        job_id=pick.job_id,
        picker_uri=f"{uri}/autoclose" if uri else "",
        state=pick.state,
        picked=pick.picked,
        imported=pick.imported,
        already_present=pick.already_present,
        skipped=pick.skipped,
        failed=pick.failed,
        problems=[
            PickProblem(filename=p.get("filename") or "", reason=p["reason"], kind=p["kind"])
            for p in pick.problems
        ],
        error=pick.error,
        expires_at=pick.expires_at,
        created_at=pick.created_at,
        finished_at=pick.finished_at,
        notice=notice,
    )


@router.post("/connect", response_model=ConnectOut, responses={**AUTHED, **OFF})
def connect(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> ConnectOut:
    """Google's authorisation URL for this person: open it in the browser."""
    redirect_uri = ctx.settings.google_redirect_uri or str(request.url_for("google_callback"))
    return ConnectOut(
        authorization_url=start_connect(session, ctx.settings, owner_id(user), redirect_uri)
    )


@router.get(
    "/callback",
    name="google_callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "Back to the web UI: /?google=connected or an error"}},
)
def callback(
    ctx: CtxDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> RedirectResponse:
    """Where Google sends the browser back. No bearer token: the single-use ``state`` names
    the person."""
    require_enabled(ctx.settings)
    if error or not code:
        message = (
            "you did not allow access to Google Photos"
            if error == "access_denied"
            else f"Google did not connect ({error or 'no code'})"
        )
        return _back("error", message)
    try:
        finish_connect(ctx, state, code)
    except (AppError, OAuthFailed) as exc:
        return _back("error", str(exc))
    return _back("connected")


def _back(outcome: str, message: str | None = None) -> RedirectResponse:
    query: dict[str, Any] = {"google": outcome}
    if message:
        query["message"] = message
    return RedirectResponse("/?" + urlencode(query), status_code=303)


@router.get("", response_model=GoogleStatusOut, responses={**AUTHED, **OFF})
def status(user: CurrentUser, session: SessionDep, ctx: CtxDep) -> GoogleStatusOut:
    require_enabled(ctx.settings)
    conn = get_connection(session, owner_id(user))
    if conn is None:
        return GoogleStatusOut(connected=False)
    return GoogleStatusOut(
        connected=True,
        email=conn.email or None,
        scopes=conn.scopes.split(),
        needs_reconnect=conn.needs_reconnect,
        last_error=conn.last_error,
    )


@router.delete("", status_code=204, responses={**AUTHED, **OFF})
def disconnect_google(user: CurrentUser, ctx: CtxDep) -> Response:
    """Revoke this app's access at Google and forget the tokens."""
    disconnect(ctx, owner_id(user))
    return Response(status_code=204)


@router.post(
    "/picks",
    response_model=PickOut,
    status_code=201,
    responses={
        **AUTHED,
        **OFF,
        409: {"model": ErrorOut, "description": "Not connected, or Google must be reconnected"},
        429: {"model": ErrorOut, "description": "Too many picking sessions open at Google"},
    },
)
def create_pick(user: CurrentUser, ctx: CtxDep) -> PickOut:
    """Open a Google Photos picking session; the import starts once the person has picked."""
    started = start_pick(ctx, owner_id(user))
    return pick_out(started.pick, started.notice)


@router.get("/picks", response_model=list[PickOut], responses={**AUTHED, **OFF})
def list_picks(user: CurrentUser, session: SessionDep, ctx: CtxDep) -> list[PickOut]:
    """This person's latest picks, newest first."""
    require_enabled(ctx.settings)
    picks = session.exec(
        owned_query(GooglePick, owner_id(user)).order_by(col(GooglePick.id).desc()).limit(20)
    ).all()
    return [pick_out(p) for p in picks]


@router.get(
    "/picks/{pick_id}",
    response_model=PickOut,
    responses={**AUTHED, **OFF, 404: {"model": ErrorOut}},
)
def get_pick(pick_id: PickId, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> PickOut:
    require_enabled(ctx.settings)
    return pick_out(get_owned(session, GooglePick, owner_id(user), pick_id, "pick"))

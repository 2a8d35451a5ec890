"""``POST /images/scraped``: what the SCRAPE-mode scraper found on a person's photos page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from backend.api.deps import CtxDep, CurrentUser, SessionDep, owner_id
from backend.api.schemas import ErrorOut
from backend.api.upload_spool import receive_files, spool_folder, spool_for
from backend.config.settings import Settings
from backend.models import ImageState
from backend.services.errors import AppError, Invalid
from backend.services.fetching.safe_fetch import policy_from
from backend.services.ingestion.scraped import ScrapedItem, ScrapedResult, ingest_scraped

router = APIRouter(prefix="/images", tags=["images"])


class ScrapedItemIn(BaseModel):
    source_id: Annotated[str, Field(max_length=200, description="the Google Photos id")]
    url: Annotated[str | None, Field(max_length=4096, description="the image's address")] = None
    filename: Annotated[str | None, Field(max_length=255)] = None
    # Strict: a date-time string (RFC 3339), as the spec says; a bare number is not a time.
    taken_at: Annotated[datetime | None, Field(strict=True)] = None
    width: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    height: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    page_url: Annotated[str | None, Field(max_length=2048, description="the link back")] = None


class ScrapedIn(BaseModel):
    items: list[ScrapedItemIn]


class ScrapedAccepted(BaseModel):
    source_id: str
    image_id: int
    status: ImageState
    new: bool  # false: the id was known already and nothing was created


class ScrapedRejected(BaseModel):
    source_id: str
    reason: str


class ScrapedOut(BaseModel):
    job_id: int
    accepted: list[ScrapedAccepted]
    rejected: list[ScrapedRejected]


# The body is read by hand (JSON or multipart), so FastAPI does not list it: described here,
# inline (no $ref to a component FastAPI would not generate).
_ITEMS_SCHEMA: dict[str, Any] = {
    "title": "ScrapedIn",
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": ScrapedItemIn.model_json_schema()}},
}
OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _ITEMS_SCHEMA},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {"type": "string", "description": "the JSON document"},
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "the bytes of items sent without a url; each "
                            "part's filename is its item's source_id",
                        },
                    },
                }
            },
        },
    }
}


def _parse_items(raw: bytes | str) -> ScrapedIn:
    try:
        return ScrapedIn.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"the items are not valid: {where}: {first['msg']}") from None


async def _read_body(request: Request, settings: Settings) -> list[ScrapedItem]:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    max_items = settings.max_files_per_upload
    blobs: dict[str, bytes | None] = {}
    if kind == "multipart/form-data":
        # Like the upload route: read only now (after the sign-in check), into the data
        # directory's spool under its quota, never the system temp folder.
        spool = spool_for(spool_folder(settings.data_dir), settings.upload_spool_mib * 2**20)
        async with receive_files(
            request, spool, max_items, settings.max_upload_bytes, fields=("items",)
        ) as received:
            raw = received.fields.get("items")
            if raw is None:
                raise Invalid("the multipart body has no `items` field with the JSON document")
            parsed = _parse_items(raw)
            for incoming in received.incoming():
                if incoming.filename:
                    blobs[incoming.filename] = incoming.data  # None: over the size limit
    elif kind == "application/json":
        body = await request.body()
        parsed = _parse_items(body)
    else:
        raise AppError("send application/json or multipart/form-data", 415)
    if len(parsed.items) > max_items:
        raise Invalid(f"{len(parsed.items)} items sent; send at most {max_items} per request")
    items = []
    for item in parsed.items:
        sent = item.source_id in blobs
        data = blobs.get(item.source_id)
        items.append(
            ScrapedItem(
                **item.model_dump(),
                data=data,
                too_large=sent and data is None,
            )
        )
    return items


@router.post(
    "/scraped",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ScrapedOut,
    responses={
        413: {"model": ErrorOut},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut},
        503: {"model": ErrorOut},
    },
    openapi_extra=OPENAPI_BODY,
)
async def scraped(
    request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep
) -> ScrapedOut:
    """Photos found by the scraper (`dupfinder scrape`): JSON `{items: [...]}`, or multipart
    with the same document in the `items` field and the bytes of the items sent without a
    URL as `files` parts (filename: the item's `source_id`). Known ids create nothing new."""
    settings = ctx.settings
    items = await _read_body(request, settings)
    result: ScrapedResult = await run_in_threadpool(
        ingest_scraped,
        session,
        ctx.store,
        settings.decode_limits,
        policy_from(settings),
        owner_id(user),
        items,
    )
    assert result.job.id is not None
    return ScrapedOut(
        job_id=result.job.id,
        accepted=[
            ScrapedAccepted(source_id=a.source_id, image_id=a.image_id, status=a.state, new=a.new)
            for a in result.accepted
        ],
        rejected=[ScrapedRejected(source_id=s, reason=r) for s, r in result.rejected],
    )

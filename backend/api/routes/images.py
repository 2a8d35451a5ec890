from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from backend.api.deps import CtxDep, CurrentUser, SessionDep, answer, owner_id
from backend.api.params import ImageId, PageNo
from backend.api.schemas import (
    AcceptedImage,
    ErrorOut,
    ImageOut,
    Page,
    RejectedFile,
    TagOut,
    UploadOut,
)
from backend.api.upload_spool import UPLOAD_BODY, receive_files, spool_folder, spool_for
from backend.models import ImageState
from backend.services import images
from backend.services.ingestion.upload import ingest_upload
from backend.services.objects import label_counts, objects_of

router = APIRouter(prefix="/images", tags=["images"])
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}}
_MEDIA = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heic",
    "AVIF": "image/avif",
}


@router.post(
    "/upload",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    openapi_extra=UPLOAD_BODY,
)
async def upload(
    request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep
) -> UploadOut:
    """Image files in the multipart field ``files`` (repeat it for many). The body is read
    only after the sign-in check, into the data directory's spool (a full spool: 503 with
    Retry-After); the files are checked from their headers and queued for analysis."""
    settings = ctx.settings
    spool = spool_for(spool_folder(settings.data_dir), settings.upload_spool_mib * 2**20)
    async with receive_files(
        request, spool, settings.max_files_per_upload, settings.max_upload_bytes
    ) as received:
        result = await run_in_threadpool(
            ingest_upload,
            session,
            ctx.store,
            settings.decode_limits,
            owner_id(user),
            received.incoming(),
        )
    assert result.job.id is not None
    return UploadOut(
        job_id=result.job.id,
        images=[
            AcceptedImage(id=i.id, filename=i.filename, status=i.state)
            for i in result.images
            if i.id is not None
        ],
        rejected=[RejectedFile(filename=f, reason=r) for f, r in result.rejected],
    )


@router.get("", response_model=Page[ImageOut])
async def list_images(
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
    state: ImageState | None = None,
    trashed: bool = False,
    object: Annotated[
        str | None, Query(max_length=64, description="only images showing this object")
    ] = None,
    page: PageNo = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[ImageOut]:

    def work() -> Page[ImageOut]:
        rows, total = images.list_images(
            session, owner_id(user), state, trashed, page, size, object
        )
        found = objects_of(session, [i.id for i in rows if i.id is not None])
        items = [ImageOut.of(i, found.get(i.id or 0, [])) for i in rows]
        return Page(items=items, total=total, page=page, size=size)

    return await answer(ctx, work)


@router.get("/tags", response_model=list[TagOut])
def list_tags(user: CurrentUser, session: SessionDep) -> list[TagOut]:
    """The objects detected in the person's photos, most common first (for filters)."""
    return [TagOut(label=label, images=n) for label, n in label_counts(session, owner_id(user))]


@router.get("/{image_id:int}", response_model=ImageOut, responses=NOT_FOUND)
def get_image(image_id: ImageId, user: CurrentUser, session: SessionDep) -> ImageOut:
    image = images.get_image(session, owner_id(user), image_id)
    return ImageOut.of(image, objects_of(session, [image_id]).get(image_id, []))


@router.get(
    "/{image_id:int}/thumbnail",
    responses={200: {"content": {"image/jpeg": {}}}, **NOT_FOUND},
    response_class=Response,
)
async def thumbnail(
    image_id: ImageId, user: CurrentUser, session: SessionDep, ctx: CtxDep
) -> Response:
    def work() -> bytes:
        return images.read_thumbnail(ctx, images.get_image(session, owner_id(user), image_id))

    return Response(
        await answer(ctx, work),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.get(
    "/{image_id:int}/file",
    responses={200: {"content": {"image/*": {}}}, **NOT_FOUND},
    response_class=Response,
)
def original(image_id: ImageId, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> Response:
    image = images.get_image(session, owner_id(user), image_id)
    data = images.read_original(ctx, image)
    ascii_name = image.filename.replace('"', "_").encode("ascii", "replace").decode()
    disposition = f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(image.filename)}"
    return Response(
        data,
        media_type=_MEDIA.get(image.format or "", "application/octet-stream"),
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/{image_id:int}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete(image_id: ImageId, user: CurrentUser, session: SessionDep) -> Response:
    images.delete_image(session, owner_id(user), image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

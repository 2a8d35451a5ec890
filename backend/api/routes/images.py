from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from backend.api.deps import CtxDep, CurrentUser, SessionDep, owner_id
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
from backend.models import ImageState
from backend.services import images
from backend.services.errors import AppError
from backend.services.ingestion.upload import IncomingFile, ingest_upload
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


def _read_limited(files: list[UploadFile], limit: int) -> Iterator[IncomingFile]:
    """One file in memory at a time, never more than the limit plus one byte of it."""
    for upload in files:
        data = upload.file.read(limit + 1)
        yield IncomingFile(upload.filename or "", data if len(data) <= limit else None)
        upload.file.close()


@router.post(
    "/upload",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
def upload(
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
    files: Annotated[list[UploadFile], File(description="Image files; repeat the field for many")],
) -> UploadOut:
    limit = ctx.settings.max_files_per_upload
    if len(files) > limit:
        raise AppError(f"{len(files)} files sent; send at most {limit} per request", 422)
    result = ingest_upload(
        session,
        ctx.store,
        ctx.settings.decode_limits,
        owner_id(user),
        _read_limited(files, ctx.settings.max_upload_bytes),
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
def list_images(
    user: CurrentUser,
    session: SessionDep,
    state: ImageState | None = None,
    trashed: bool = False,
    object: Annotated[
        str | None, Query(max_length=64, description="only images showing this object")
    ] = None,
    page: PageNo = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[ImageOut]:
    rows, total = images.list_images(session, owner_id(user), state, trashed, page, size, object)
    found = objects_of(session, [i.id for i in rows if i.id is not None])
    items = [ImageOut.of(i, found.get(i.id or 0, [])) for i in rows]
    return Page(items=items, total=total, page=page, size=size)


@router.get("/tags", response_model=list[TagOut])
def list_tags(user: CurrentUser, session: SessionDep) -> list[TagOut]:
    """The objects detected in the person's photos, most common first (for filters)."""
    return [TagOut(label=label, images=n) for label, n in label_counts(session, owner_id(user))]


@router.get("/{image_id}", response_model=ImageOut, responses=NOT_FOUND)
def get_image(image_id: ImageId, user: CurrentUser, session: SessionDep) -> ImageOut:
    image = images.get_image(session, owner_id(user), image_id)
    return ImageOut.of(image, objects_of(session, [image_id]).get(image_id, []))


@router.get(
    "/{image_id}/thumbnail",
    responses={200: {"content": {"image/jpeg": {}}}, **NOT_FOUND},
    response_class=Response,
)
def thumbnail(image_id: ImageId, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> Response:
    image = images.get_image(session, owner_id(user), image_id)
    return Response(
        images.read_thumbnail(ctx, image),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.get(
    "/{image_id}/file",
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


@router.delete("/{image_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete(image_id: ImageId, user: CurrentUser, session: SessionDep) -> Response:
    images.delete_image(session, owner_id(user), image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

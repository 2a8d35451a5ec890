"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, EmailStr, Field

from backend.core.grouping import Tier
from backend.models import GroupStatus, Image, ImageState, IngestionMode, JobState


class ErrorOut(BaseModel):
    detail: str


class RegisterIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    name: str = Field(default="", max_length=200)


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class ImageOut(BaseModel):
    id: int
    filename: str
    source: IngestionMode
    status: ImageState
    error: str | None
    width: int | None
    height: int | None
    bytes: int
    format: str | None
    sha256: str | None
    taken_at: datetime | None
    camera_make: str | None
    camera_model: str | None
    trashed: bool
    job_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, image: Image) -> ImageOut:
        assert image.id is not None
        return cls(
            id=image.id,
            filename=image.filename,
            source=image.source,
            status=image.state,
            error=image.error,
            width=image.width,
            height=image.height,
            bytes=image.size_bytes,
            format=image.format,
            sha256=image.content_sha256,
            taken_at=image.taken_at,
            camera_make=image.camera_make,
            camera_model=image.camera_model,
            trashed=image.trashed_at is not None,
            job_id=image.job_id,
            created_at=image.created_at,
        )


class ImagePage(BaseModel):
    items: list[ImageOut]
    total: int
    page: int
    size: int


class AcceptedImage(BaseModel):
    id: int
    filename: str
    status: ImageState


class RejectedFile(BaseModel):
    filename: str
    reason: str


class UploadOut(BaseModel):
    job_id: int
    images: list[AcceptedImage]
    rejected: list[RejectedFile]


class FailedImage(BaseModel):
    image_id: int
    filename: str
    reason: str


class JobOut(BaseModel):
    id: int
    kind: str
    state: JobState
    total: int
    done: int
    failed: int
    failures: list[FailedImage]
    created_at: datetime
    finished_at: datetime | None


class KeeperOut(BaseModel):
    image_id: int
    reasons: list[str]


class PairOut(BaseModel):
    image_a: int
    image_b: int
    tier: Tier
    hash_distance: float


class GroupOut(BaseModel):
    id: int
    tier: Tier
    status: GroupStatus
    images: list[ImageOut]
    suggested_keep: KeeperOut | None  # None once every member is gone (a decided group)
    pairs: list[PairOut]


class GroupPage(BaseModel):
    items: list[GroupOut]
    total: int
    page: int
    size: int


class ResolveIn(BaseModel):
    keep: list[int] = Field(min_length=1)
    trash: list[int] = Field(default_factory=list)
    # The members the person was shown; when given and the group has changed since, 409.
    seen: list[int] | None = None


class DismissIn(BaseModel):
    seen: list[int] | None = None


class DecisionOut(BaseModel):
    group_id: int
    status: GroupStatus
    keep: list[int]
    trash: list[int]


class HealthOut(BaseModel):
    status: str  # "ok", or "degraded" when the database or the job broker is unreachable
    database: str
    worker: str  # "embedded" (in-process) or "celery"
    broker: str  # the job queue: "ok" or "unavailable"
    version: str

"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StrictBool

from backend.api.params import IdField
from backend.core.grouping import Tier
from backend.models import (
    GroupDecision,
    GroupStatus,
    Image,
    ImageObject,
    ImageState,
    IngestionMode,
    JobState,
)
from backend.services.objects import tags


def _with_zone(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# A capture time: EXIF records the camera's clock without a zone, Google and Takeout give UTC;
# both are kept as they came and shown with an offset (UTC), as RFC 3339 requires.
CaptureTime = Annotated[
    datetime,
    AfterValidator(_with_zone),
    Field(description="when the photo was taken: the camera's clock time, given as UTC"),
]


class ErrorOut(BaseModel):
    detail: str


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    created_at: datetime


class ObjectOut(BaseModel):
    label: str
    confidence: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the upright image

    @classmethod
    def of(cls, o: ImageObject) -> ObjectOut:
        return cls(label=o.label, confidence=o.confidence, box=(o.x0, o.y0, o.x1, o.y1))


class ImageOut(BaseModel):
    id: int
    filename: str
    source: IngestionMode
    source_id: str | None = None  # the id at the source (a Google Photos id when scraped)
    status: ImageState
    error: str | None
    width: int | None
    height: int | None
    bytes: int
    format: str | None
    sha256: str | None
    taken_at: CaptureTime | None
    camera_make: str | None
    camera_model: str | None
    source_url: str | None = None  # the photo where it came from (e.g. Google Photos)
    albums: list[str] = Field(default_factory=list)
    description: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    trashed: bool
    job_id: int | None
    created_at: datetime
    tags: list[str] = Field(default_factory=list)  # detected objects, most confident first
    objects: list[ObjectOut] = Field(default_factory=list)

    @classmethod
    def of(cls, image: Image, objects: Sequence[ImageObject] = ()) -> ImageOut:
        assert image.id is not None
        return cls(
            id=image.id,
            filename=image.filename,
            source=image.source,
            source_id=image.source_id if image.source != "FOLDER" else None,
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
            source_url=image.source_url,
            albums=list(image.albums or []),
            description=image.description,
            latitude=image.latitude,
            longitude=image.longitude,
            trashed=image.trashed_at is not None,
            job_id=image.job_id,
            created_at=image.created_at,
            tags=tags(objects),
            objects=[ObjectOut.of(o) for o in objects],
        )


class TagOut(BaseModel):
    label: str
    images: int  # how many of the person's images show it


class Page[T](BaseModel):
    """One page of a list: ``Page[ImageOut]``, ``Page[GroupOut]``."""

    items: list[T]
    total: int  # in the whole list
    page: int  # from 1
    size: int  # the most items a page holds


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


class SkippedFile(BaseModel):
    name: str
    reason: str


class JobSummaryOut(BaseModel):
    """A job as the list shows it: its progress, without the per-file details."""

    id: int
    kind: str  # upload, google_pick, takeout, scrape or scan (a folder)
    state: JobState
    total: int
    done: int
    failed: int
    created_at: datetime
    finished_at: datetime | None
    message: str | None = None  # a summary, or why the whole batch failed


class JobOut(JobSummaryOut):
    failures: list[FailedImage]
    skipped: list[SkippedFile] = []  # files left out on purpose (videos, trashed photos…)


class KeeperOut(BaseModel):
    image_id: int
    reasons: list[str]


class PairOut(BaseModel):
    """One matched pair of a group and the evidence for it."""

    image_a: int
    image_b: int
    tier: Tier
    hash_distance: float  # perceptual-hash bits of 64 (best of the 8 flips and turns)
    copy_similarity: float | None  # SSCD cosine similarity, when computed
    semantic_similarity: float | None  # CLIP cosine similarity, when computed
    shared_objects: list[str]  # object tags both images have
    # Geometric verification of a would-be near pair: "copy", "other_shot" or "undecided"
    # (None: not verified, e.g. identical pictures), and the check that decided, in words.
    verdict: str | None = None
    decided_by: str | None = None
    explanation: str


class GroupOut(BaseModel):
    id: int
    tier: Tier
    status: GroupStatus
    images: list[ImageOut]
    suggested_keep: KeeperOut | None  # None once every member is gone (a decided group)
    pairs: list[PairOut]
    tags: list[str]  # object tags of its members, most common first
    # What resolving it means: exact and near groups, "keep the suggested copy, trash the
    # others"; similar groups (other shots), "pick the best shot": nothing is offered for the
    # trash by default.
    suggested_action: str = ""
    # What accepting the suggestion frees: the bytes of the members other than the suggested
    # keeper (0 for similar groups: nothing is trashed unless the person picks).
    bytes_freed: int = 0


class GroupCountsOut(BaseModel):
    """Open groups shown per tier."""

    exact: int
    near: int
    similar: int


class ResolveIn(BaseModel):
    keep: list[IdField] = Field(min_length=1)
    trash: list[IdField] = Field(default_factory=list)
    # The members the person was shown; when given and the group has changed since, 409.
    seen: list[IdField] | None = None


class DismissIn(BaseModel):
    seen: list[IdField] | None = None


class DecisionOut(BaseModel):
    id: int  # what ``POST /decisions/{id}/undo`` takes
    group_id: int
    status: GroupStatus  # "open" for the record of an undo
    keep: list[int]
    trash: list[int]
    created_at: datetime
    undoes: int | None = None  # an undo: the decision it undid

    @classmethod
    def of(cls, d: GroupDecision, undoes: int | None = None) -> DecisionOut:
        assert d.id is not None and d.group_id is not None
        return cls(
            id=d.id,
            group_id=d.group_id,
            status=d.action,
            keep=d.keep,
            trash=d.trash,
            created_at=d.created_at,
            undoes=undoes,
        )


class AcceptIn(BaseModel):
    tier: Tier  # "exact" or "near"; "similar" is refused (pick the best shot by hand)
    group_ids: list[IdField] | None = Field(default=None, max_length=10_000)  # None: the tier
    # Strict: JSON true/false only, as the spec says (lax parsing took "no" or 0 as well).
    dry_run: StrictBool = False  # count what it would do, decide nothing


class AcceptOut(BaseModel):
    groups: int
    images_trashed: int
    bytes_freed: int
    decision_ids: list[int]  # each can be undone (empty for a dry run)


class RestoreIn(BaseModel):
    image_ids: list[IdField] = Field(min_length=1, max_length=10_000)


class RestoredOut(BaseModel):
    restored: int  # how many of them were in the trash


class EmptiedOut(BaseModel):
    deleted: int
    bytes_freed: int  # the deleted photos' sizes


class HealthOut(BaseModel):
    status: str  # "ok", or "degraded" when the database or the job broker is unreachable
    database: str
    worker: str  # "embedded" (in-process) or "celery"
    broker: str  # the job queue: "ok" or "unavailable"
    version: str
    models: dict[str, str | None] = Field(default_factory=dict)  # which model serves what
    vector_index: str = ""
    # API mode: "on", or "off" with what to set (the Google Photos integration needs a client).
    google_photos: str = ""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.models.base import str_enum, timestamp, utcnow


class IngestionMode(StrEnum):
    SCRAPE = "SCRAPE"
    API = "API"
    UPLOAD = "UPLOAD"
    FOLDER = "FOLDER"  # `dupfinder scan`: files read in place, never copied
    TAKEOUT = "TAKEOUT"  # a Google Takeout archive


class ImageState(StrEnum):
    FETCHING = "fetching"  # a URL to download first (``fetch_url``; SCRAPE mode)
    PENDING = "pending"  # stored, waiting for analysis
    HASHED = "hashed"  # hashes known, waiting for the models (embeddings, objects)
    ANALYSED = "analysed"  # features known, not yet compared with the library
    READY = "ready"  # compared and grouped
    FAILED = "failed"  # unusable; ``error`` says why


# On their way: stored, not yet compared and grouped.
UNFINISHED = (ImageState.FETCHING, ImageState.PENDING, ImageState.HASHED, ImageState.ANALYSED)


class Image(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "source", "source_id", name="uq_image_owner_source"),
        sa.Index("ix_image_owner_state", "owner_id", "state"),
        sa.Index("ix_image_owner_sha", "owner_id", "content_sha256"),
        sa.Index("ix_image_owner_grouped_seq", "owner_id", "grouped_seq"),
        # Counting and paging a person's photos in or out of the trash reads the index only.
        sa.Index("ix_image_owner_trashed", "owner_id", "trashed_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    source: IngestionMode = Field(sa_type=str_enum(IngestionMode))
    source_id: str | None = Field(default=None, max_length=1024)
    source_version: str | None = Field(default=None, max_length=64)  # size:mtime for folders
    job_id: int | None = Field(default=None, foreign_key="job.id", ondelete="SET NULL")
    filename: str = Field(max_length=255)
    storage_key: str = Field(max_length=1100)
    thumbnail_key: str | None = Field(default=None, max_length=200)
    content_sha256: str | None = Field(default=None, max_length=64)
    pixel_hash: str | None = Field(default=None, max_length=64)
    phash: int | None = Field(default=None, sa_type=sa.BigInteger)
    # The eight dihedral variants of the hash (8 × 8 bytes, big-endian): what a search sends.
    phash_dihedral: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    width: int | None = None
    height: int | None = None
    format: str | None = Field(default=None, max_length=16)
    size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    frames: int = 1
    is_greyscale: bool = False
    # Share of the canvas that is blank (a copy turned on an enlarged canvas, a border added):
    # pixels without detail, which the keeper rules do not count. None: not measured yet.
    blank_share: float | None = None
    taken_at: datetime | None = Field(default=None, sa_type=sa.DateTime)
    camera_make: str | None = Field(default=None, max_length=120)
    camera_model: str | None = Field(default=None, max_length=120)
    exif_fields: int = 0
    # EXIF facts that tell two shots apart (copies keep or drop EXIF, they do not change it):
    # the capture time's milliseconds, the camera's ImageUniqueID, its shutter count.
    taken_subsec: int | None = None
    unique_id: str | None = Field(default=None, max_length=64)
    shutter_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    # What the source said about the photo (Google Photos, a Takeout sidecar, a scraped page):
    # the link back to it, its albums, caption and place. EXIF wins where both say something.
    source_url: str | None = Field(default=None, max_length=2048)
    # While FETCHING: the address of the photo's bytes (downloaded by the safe fetcher), then
    # cleared. ``storage_key`` is empty until then.
    fetch_url: str | None = Field(default=None, max_length=4096)
    # The server default is the migration's (rows before 0007); a fresh create_all has it too.
    albums: list[str] = Field(
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"server_default": sa.text("'[]'")}
    )
    description: str | None = Field(default=None, max_length=2000)
    latitude: float | None = None
    longitude: float | None = None
    # The detector that looked at the image (even when it found nothing): "0 people" is known
    # only then, and a detector change re-detects every image.
    objects_model: str | None = Field(default=None, max_length=120)
    state: ImageState = Field(default=ImageState.PENDING, sa_type=str_enum(ImageState))
    # The grouping run (per owner, increasing) that made the image READY: a worker's in-memory
    # hash index of the library reads only the images grouped since its last look.
    grouped_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    error: str | None = Field(default=None, max_length=500)
    trashed_at: datetime | None = Field(default=None, sa_type=timestamp())
    created_at: datetime = Field(default_factory=utcnow, sa_type=timestamp())

"""Task: analyse one stored image (hashes, size, metadata, thumbnail)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.core.features import ImageFeatures, PixelFacts, extract_features, sha256_hex
from backend.core.perceptual import pack_codes, to_signed
from backend.core.rejected import ImageRejected
from backend.models import Image, ImageState
from backend.services.context import AppContext
from backend.services.features.twins import hashed_twin
from backend.services.jobs import count_progress
from backend.services.pipeline import after_extraction, resend, send_next
from backend.services.storage.blobstore import BlobNotFound, thumbnail_key

log = logging.getLogger(__name__)


def extract_image_features(ctx: AppContext, image_id: int) -> None:
    """Idempotent: an image that is no longer pending is left as it is."""
    with Session(ctx.engine) as session:
        row = session.execute(_READ, {"image_id": image_id}).first()
        if row is None:
            return
        owner_id, storage_key, filename, size, current = row
        if current != ImageState.PENDING:
            # A run that died between its commit and sending the next step: send it now.
            resend(ctx.jobs, ImageState(current), image_id, owner_id)
            return

    # The decoding and hashing happen outside any transaction: no lock is held meanwhile.
    features: ImageFeatures | None = None
    reason = ""
    limits = ctx.settings.decode_limits
    try:
        if size > limits.max_bytes:  # never read a 3 GB video into memory to learn that
            raise ImageRejected(
                f"the file is {size / 2**20:.1f} MiB, over the limit of "
                f"{limits.max_bytes / 2**20:.1f} MiB"
            )
        data = ctx.store.get(storage_key)
        sha = sha256_hex(data)  # of the bytes read: a rescanned file may have changed since
        pixels = _twin_pixels(ctx, image_id, owner_id, sha)
        features = extract_features(data, filename, limits, sha, pixels)
    except ImageRejected as exc:
        reason = exc.reason
    except BlobNotFound:
        reason = "the stored file has disappeared"
    except Exception as exc:  # an unexpected decoder error must not wedge the batch
        log.exception("analysing image %s failed", image_id)
        reason = f"the image could not be analysed ({type(exc).__name__})"
    thumb = thumbnail_key(owner_id, image_id)
    if features is not None:
        ctx.store.put(thumb, features.thumbnail_jpeg)

    if features is None:
        with ctx.session(write=True) as session:
            # Row lock: a redelivered copy of this task running at the same time waits, then
            # sees the image done and leaves it (no double count on the job).
            image = session.get(Image, image_id, with_for_update=True)
            if image is not None and image.state == ImageState.PENDING:
                _fail(session, image, reason)
        return
    # With models configured they come next (their own queue), then grouping.
    state = after_extraction(ctx.ml.enabled)
    meta = features.metadata
    with ctx.session(write=True) as session:
        # One statement, only while the image is still pending: a redelivered copy of this
        # task running at the same time waits for the row, then finds it done and leaves it.
        found = {
            "content_sha256": features.sha256,
            "phash": to_signed(features.phash),
            "phash_dihedral": pack_codes(features.phash_variants),
            "width": features.width,
            "height": features.height,
            "format": features.format,
            "frames": features.frames,
            "is_greyscale": features.is_greyscale,
            "blank_share": features.blank_share,
            "taken_at": meta.taken_at,
            "camera_make": meta.camera_make,
            "camera_model": meta.camera_model,
            "exif_fields": meta.exif_fields,
            "taken_subsec": meta.taken_subsec,
            "unique_id": meta.unique_id,
            "shutter_count": meta.shutter_count,
            "thumbnail_key": thumb,
            "state": state,
        }
        done = session.execute(
            _STORE,
            {
                "image_id": image_id,
                "pending": ImageState.PENDING,
                **{f"new_{k}": v for k, v in found.items()},
            },
        )
        if done.rowcount:  # type: ignore[attr-defined]
            # The models and the comparison with the library run per owner, in batches.
            send_next(session, state, image_id, owner_id)


def _twin_pixels(ctx: AppContext, image_id: int, owner_id: int, sha: str) -> PixelFacts | None:
    """What decoding these bytes gave another of the owner's images (a byte copy), if any."""
    with Session(ctx.engine) as session:
        twin = hashed_twin(session, owner_id, sha, image_id)
    if twin is None:
        return None
    try:
        thumbnail = ctx.store.get(twin.thumbnail_key)
    except BlobNotFound:  # deleted with its image meanwhile: decode after all
        return None
    return PixelFacts(twin.phash_variants, twin.is_greyscale, twin.blank_share, thumbnail)


# Built once (building a statement costs more than running it), one per image.
_READ = sa.select(
    col(Image.owner_id),
    col(Image.storage_key),
    col(Image.filename),
    col(Image.size_bytes),
    col(Image.state),
).where(col(Image.id) == sa.bindparam("image_id"))
_FROM_FILE = (
    "content_sha256",
    "phash",
    "phash_dihedral",
    "width",
    "height",
    "format",
    "frames",
    "is_greyscale",
    "blank_share",
    "exif_fields",
    "taken_subsec",
    "unique_id",
    "shutter_count",
    "thumbnail_key",
    "state",
)
_COLUMNS = Image.__table__.c  # type: ignore[attr-defined]
_STORE = (
    sa.update(Image)
    .where(col(Image.id) == sa.bindparam("image_id"), col(Image.state) == sa.bindparam("pending"))
    .values(
        {
            **{name: sa.bindparam(f"new_{name}", type_=_COLUMNS[name].type) for name in _FROM_FILE},
            # EXIF first; what the source said (Google's metadata) where EXIF is silent.
            **{
                name: sa.func.coalesce(
                    sa.bindparam(f"new_{name}", type_=_COLUMNS[name].type),
                    _COLUMNS[name],
                )
                for name in ("taken_at", "camera_make", "camera_model")
            },
            "error": None,
        }
    )
)


def _fail(session: Session, image: Image, reason: str) -> None:
    image.state = ImageState.FAILED
    image.error = reason[:500]
    session.add(image)
    count_progress(session, done=[], failed=[image.job_id])


def give_up_on_image(ctx: AppContext, error: BaseException, image_id: int) -> None:
    """Retries are exhausted: the image fails with a reason, so its job can finish."""
    with ctx.session(write=True) as session:
        image = session.get(Image, image_id, with_for_update=True)
        if image is not None and image.state == ImageState.PENDING:
            _fail(session, image, f"the image could not be stored or analysed ({error})")

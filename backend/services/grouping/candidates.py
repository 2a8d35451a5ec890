"""Who a person's newly analysed images may pair with, and the evidence for each pair.

Each new image searches the owner's hash index (kept in memory between runs:
grouping/library.py) for neighbours within the near distance (all eight flips and turns), the
owner's vector index for its nearest neighbours by each model (SSCD copy detection, CLIP), and
the pictures one camera took seconds apart (bursts). So a batch costs index lookups and a read
of the rows it hits, not a read of the library. Gathered before the owner's lock (prepare.py)
and used under it (compare.py) when the library gained no image meanwhile (ahead.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from backend.core.decode import DecodeLimits
from backend.core.evidence import (
    Capture,
    Evidence,
    Thresholds,
    worth_verifying,
)
from backend.core.features import pixel_digest, sha256_hex
from backend.core.grouping import pair
from backend.core.perceptual import hamming, to_unsigned, unpack_codes
from backend.models import Image, ImageEmbedding, ImageState
from backend.services.context import AppContext
from backend.services.grouping.library import HashLibrary
from backend.services.storage.blobstore import BlobNotFound, BlobStore

BATCH = 500
DCT_SCALED = ("JPEG", "MPO")  # formats whose reduced decode is libjpeg's (core.decode)


@dataclass
class Known:
    """What the comparison needs of an image it compares with."""

    id: int
    sha: str | None
    width: int | None
    height: int | None
    pixel_hash: str | None
    storage_key: str
    phash: int | None = None  # unsigned
    capture: Capture = Capture()
    format: str | None = None

    @classmethod
    def of(cls, image: Image) -> Known:
        assert image.id is not None
        return cls(
            image.id,
            image.content_sha256,
            image.width,
            image.height,
            image.pixel_hash,
            image.storage_key,
            to_unsigned(image.phash) if image.phash is not None else None,
            capture_of(
                image.taken_at,
                image.taken_subsec,
                image.unique_id,
                image.shutter_count,
                image.camera_make,
                image.camera_model,
            ),
            image.format,
        )

    def may_be_identical(self, other: Known, distance: int | None) -> bool:
        """Different bytes and the same size: only the pixels can tell, unless the hashes
        already do. Identical pixels give identical hashes where both pictures were reduced
        alike for hashing; a JPEG is reduced by its decoder (DCT scaling) and any other
        picture by averaging pixels, so a JPEG and a PNG of the same pixels may hash a few
        bits apart. Saves a full-size decode of both photos of every burst pair."""
        if self.sha == other.sha or (self.width, self.height) != (other.width, other.height):
            return False
        return distance == 0 or (self.format in DCT_SCALED) != (other.format in DCT_SCALED)


def grouped(session: Session, owner_id: int, ids: Iterable[int]) -> dict[int, Known]:
    """The rows of the hits that are really in the person's grouped library (the in-memory
    index may still hold images deleted or sent back to the models since)."""
    wanted = sorted(set(ids))
    out: dict[int, Known] = {}
    for start in range(0, len(wanted), 5000):  # bounded IN lists
        for row in session.execute(
            sa.select(
                col(Image.id),
                col(Image.content_sha256),
                col(Image.width),
                col(Image.height),
                col(Image.pixel_hash),
                col(Image.storage_key),
                col(Image.phash),
                col(Image.taken_at),
                col(Image.taken_subsec),
                col(Image.unique_id),
                col(Image.shutter_count),
                col(Image.camera_make),
                col(Image.camera_model),
                col(Image.format),
            ).where(
                col(Image.owner_id) == owner_id,
                col(Image.id).in_(wanted[start : start + 5000]),
                col(Image.state) == ImageState.READY,
            )
        ):
            phash = to_unsigned(row[6]) if row[6] is not None else None
            capture = capture_of(*row[7:13])
            known = Known(row[0], row[1], row[2], row[3], row[4], row[5], phash, capture, row[13])
            out[row[0]] = known
    return out


def capture_of(
    taken_at: object,
    subsec: int | None,
    unique_id: str | None,
    shutter_count: int | None,
    make: str | None,
    model: str | None,
) -> Capture:
    camera = " ".join(p for p in (make, model) if p) or None
    when = taken_at if isinstance(taken_at, datetime) else None
    return Capture(when, subsec if when else None, unique_id, shutter_count, camera)


def hash_hits(
    library: HashLibrary, new: list[Image]
) -> tuple[dict[int, dict[int, int]], dict[int, list[int]]]:
    """Each new image's neighbours by hash among the library and the new images before it;
    and each new image's eight hash variants."""
    hits: dict[int, dict[int, int]] = {}
    codes: dict[int, list[int]] = {}
    for image in new:
        assert image.id is not None and image.phash is not None and image.phash_dihedral
        codes[image.id] = unpack_codes(image.phash_dihedral)
        hits[image.id] = library.search(codes[image.id], exclude=image.id)
        library.add(image.id, to_unsigned(image.phash))
    return hits, codes


def analysed(owner_id: int) -> SelectOfScalar[Image]:
    """The next batch of the person's images waiting to be compared."""
    return (
        select(Image)
        .where(Image.owner_id == owner_id, Image.state == ImageState.ANALYSED)
        .order_by(col(Image.id))
        .limit(BATCH)
    )


@dataclass
class PairEvidence:
    """The evidence gathered for one pair during a comparison."""

    identical: bool = False
    hash_distance: int | None = None
    copy: float | None = None
    semantic: float | None = None


Found = dict[tuple[int, int], PairEvidence]


def gather(
    session: Session,
    ctx: AppContext,
    owner_id: int,
    new: list[Image],
    pixels: Callable[[Known], str | None],
) -> tuple[Found, dict[int, Known], dict[int, list[int]]]:
    """The candidate pairs of the new images and their evidence; the images they involve; the
    new images' hash variants."""
    library = ctx.hash_libraries.of(owner_id)
    library.refresh(session)  # under the owner's lock: every earlier run is visible
    hits, codes = hash_hits(library, new)
    vector_hits = _vector_neighbours(session, ctx, owner_id, list(codes))
    batch = {k.id: k for k in map(Known.of, new)}
    burst_hits = _capture_neighbours(session, owner_id, new, ctx.settings.burst_seconds)
    others = {o for h in hits.values() for o in h} | {o for _, o, _, _ in vector_hits}
    others |= {o for _, o in burst_hits}
    known = grouped(session, owner_id, others - set(batch)) | batch

    found: Found = {}
    for image_id, neighbours in hits.items():
        me = batch[image_id]
        for other_id, distance in neighbours.items():
            other = known.get(other_id)
            if other is None:
                continue  # deleted or sent back to the models since the index saw it
            evidence = found.setdefault(pair(image_id, other_id), PairEvidence())
            evidence.hash_distance = distance
            if me.sha is not None and me.sha == other.sha:
                evidence.identical = True
            elif me.may_be_identical(other, distance) and pixels(me) == pixels(other) is not None:
                evidence.identical = True
    for image_id, other_id, kind, similarity in vector_hits:
        if other_id == image_id or other_id not in known:
            continue
        evidence = found.setdefault(pair(image_id, other_id), PairEvidence())
        if kind == "copy":
            evidence.copy = max(evidence.copy or -1.0, similarity)
        else:
            evidence.semantic = max(evidence.semantic or -1.0, similarity)
    for image_id, other_id in burst_hits:
        if other_id != image_id and other_id in known:
            found.setdefault(pair(image_id, other_id), PairEvidence())
    for (a, b), ev in found.items():
        if ev.hash_distance is None:  # found by a model only: still say how far the hashes are
            ev.hash_distance = _hash_distance(codes, known, a, b)
    return found, known, codes


def to_verify(ev: PairEvidence, t: Thresholds) -> bool:
    """What verification looks at: a would-be near pair, or one SSCD finds close enough that
    a verified copy makes it near (``Thresholds.verify_copy``)."""
    return worth_verifying(Evidence(ev.identical, ev.hash_distance, ev.copy), t)


def thresholds_for(ctx: AppContext) -> Thresholds:
    s, models = ctx.settings, ctx.ml
    return Thresholds(
        near_distance=s.near_distance,
        near_copy=s.near_copy_similarity if models.copy is not None else 2.0,
        similar_copy=s.similar_copy_threshold if models.copy is not None else None,
        similar_semantic=s.similar_clip_similarity if models.clip is not None else None,
        check_people=s.similar_object_check and models.detector is not None,
        burst_seconds=s.burst_seconds or None,
        # Verified copies among the pairs SSCD calls only similar: its similar threshold.
        verify_copy=(
            s.similar_copy_threshold if models.copy is not None and s.verify_copies else None
        ),
    )


def _vector_neighbours(
    session: Session, ctx: AppContext, owner_id: int, new: list[int]
) -> list[tuple[int, int, str, float]]:
    """Each new image's nearest neighbours by each embedding model, as (image, neighbour,
    "copy" | "semantic", similarity): among the grouped images and this batch (the others
    find this batch when their own turn comes)."""
    thresholds = thresholds_for(ctx)
    searches = []
    if ctx.ml.copy is not None:
        floor = thresholds.near_copy
        if thresholds.similar_semantic is None and thresholds.similar_copy is not None:
            floor = min(floor, thresholds.similar_copy)
        if thresholds.verify_copy is not None:
            floor = min(floor, thresholds.verify_copy)
        searches.append((ctx.ml.copy.identity, floor, "copy"))
    if ctx.ml.clip is not None and thresholds.similar_semantic is not None:
        searches.append((ctx.ml.clip.identity, thresholds.similar_semantic, "semantic"))
    out: list[tuple[int, int, str, float]] = []
    for model_name, floor, kind in searches:
        rows = session.execute(
            sa.select(col(ImageEmbedding.image_id), col(ImageEmbedding.vector)).where(
                col(ImageEmbedding.owner_id) == owner_id,
                col(ImageEmbedding.model_name) == model_name,
                col(ImageEmbedding.image_id).in_(new),
            )
        ).all()
        if not rows:
            continue
        queries = np.stack([np.frombuffer(v, dtype="<f4") for _, v in rows]).astype(np.float32)
        hits = ctx.vectors.search(
            session, owner_id, model_name, queries, ctx.settings.neighbours, floor
        )
        for (image_id, _), neighbours in zip(rows, hits, strict=True):
            out.extend((image_id, hit.image_id, kind, hit.similarity) for hit in neighbours)
    return out


def _capture_neighbours(
    session: Session, owner_id: int, new: list[Image], seconds: float
) -> list[tuple[int, int]]:
    """Pictures one camera took within ``seconds`` of a new one (EXIF DateTimeOriginal):
    candidates for the burst rule, which no copy signal may find."""
    if seconds <= 0:
        return []
    out: list[tuple[int, int]] = []
    window = timedelta(seconds=seconds + 1)  # taken_at has whole seconds
    for image in new:
        if image.taken_at is None or image.taken_subsec is None or image.camera_model is None:
            continue
        assert image.id is not None
        for (other,) in session.execute(
            sa.select(col(Image.id)).where(
                col(Image.owner_id) == owner_id,
                col(Image.id) != image.id,
                col(Image.camera_model) == image.camera_model,
                col(Image.taken_subsec).is_not(None),
                col(Image.taken_at).between(image.taken_at - window, image.taken_at + window),
                col(Image.state).in_((ImageState.READY, ImageState.ANALYSED)),
            )
        ):
            out.append((image.id, other))
    return out


def _hash_distance(
    codes: dict[int, list[int]], known: dict[int, Known], a: int, b: int
) -> int | None:
    """The best of the eight flips and turns of one image against the other's hash."""
    mine, other = (a, b) if a in codes else (b, a)
    target = known[other].phash if other in known else None
    if target is None or mine not in codes:
        return None
    return min(hamming(code, target) for code in codes[mine])


def read_pixel_digest(store: BlobStore, item: Known, limits: DecodeLimits) -> str | None:
    """Streamed over bands of rows, so a picture's digest never needs its whole decode at
    once; the decode budget bounds digests running side by side (pictures over it give
    none)."""
    try:
        data = store.get(item.storage_key)
        # A file read in place may have changed since it was hashed: its pixels must not
        # answer for the content the row (and its byte copies, twins.py) still holds.
        if item.sha is not None and sha256_hex(data) != item.sha:
            return None
        return pixel_digest(data, limits)
    except (BlobNotFound, ValueError, OSError):
        return None  # unreadable now, or too large to decode: at worst the pair stays "near"

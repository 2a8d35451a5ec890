"""Byte-identical twins: an image whose bytes another of the owner's images already has takes
that image's analysis (hashes and thumbnail, model vectors, detections, exact-pixel digest)
instead of computing it again; the verdicts of its pairs come from grouping/copied_pairs.py.

A folder and its backup copy, a photo uploaded twice, the same file in two scanned folders:
the classic duplicate is a byte copy, and before this each copy was decoded, hashed and run
through the models on its own. Only what the pixels give is taken over; what the header
says (format, size, EXIF) is read from the file itself, since it costs no decode and keeps
every image's own facts its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlmodel import Session, col

from backend.core.perceptual import unpack_codes
from backend.ml.yolo import Detection
from backend.models import Image, ImageEmbedding, ImageObject, ImageState

# States in which an image's hashes and thumbnail are stored (the models may still be owed).
_HASHED = (ImageState.HASHED, ImageState.ANALYSED, ImageState.READY)


@dataclass(frozen=True)
class TwinPixels:
    """What a decode of the shared bytes gave the twin."""

    phash_variants: tuple[int, ...]  # upright first
    is_greyscale: bool
    blank_share: float
    thumbnail_key: str


def hashed_twin(session: Session, owner_id: int, sha: str, image_id: int) -> TwinPixels | None:
    """Another of the owner's images with these bytes whose decode is done, if any."""
    row = session.execute(_TWIN, {"owner_id": owner_id, "sha": sha, "image_id": image_id}).first()
    if row is None:
        return None
    dihedral, greyscale, blank, thumb = row
    return TwinPixels(tuple(unpack_codes(dihedral)), greyscale, blank, thumb)


# Built once: one lookup per analysed image (the index on owner and sha serves it).
_TWIN = (
    sa.select(
        col(Image.phash_dihedral),
        col(Image.is_greyscale),
        col(Image.blank_share),
        col(Image.thumbnail_key),
    )
    .where(
        col(Image.owner_id) == sa.bindparam("owner_id"),
        col(Image.content_sha256) == sa.bindparam("sha"),
        col(Image.id) != sa.bindparam("image_id"),
        col(Image.state).in_(_HASHED),
        col(Image.phash_dihedral).is_not(None),
        col(Image.blank_share).is_not(None),
        col(Image.thumbnail_key).is_not(None),
    )
    .limit(1)
)


def twin_vectors(
    session: Session, owner_id: int, shas: Iterable[str], models: Iterable[str]
) -> dict[str, dict[str, NDArray[np.float32]]]:
    """For each of these contents, the vectors the owner's images with it already have, by
    model identity (the current models only: another model's space must not mix in)."""
    wanted, names = sorted(set(shas)), sorted(set(models))
    if not wanted or not names:
        return {}
    found: dict[str, dict[str, NDArray[np.float32]]] = {}
    for sha, name, vector in session.execute(
        sa.select(
            col(Image.content_sha256), col(ImageEmbedding.model_name), col(ImageEmbedding.vector)
        )
        .join(Image, col(Image.id) == col(ImageEmbedding.image_id))
        .where(
            col(Image.owner_id) == owner_id,
            col(Image.content_sha256).in_(wanted),
            col(ImageEmbedding.model_name).in_(names),
        )
    ):
        found.setdefault(sha, {})[name] = np.frombuffer(vector, dtype="<f4").astype(np.float32)
    return found


def twin_pixel_hashes(session: Session, owner_id: int, shas: Iterable[str]) -> dict[str, str]:
    """For each of these contents, the exact-pixel digest an image of the owner with it
    already has, if any."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(col(Image.content_sha256), col(Image.pixel_hash)).where(
            col(Image.owner_id) == owner_id,
            col(Image.content_sha256).in_(wanted),
            col(Image.pixel_hash).is_not(None),
        )
    )
    return {str(sha): str(digest) for sha, digest in rows}


def twin_detections(
    session: Session, owner_id: int, shas: Iterable[str], detector: str
) -> dict[str, list[Detection]]:
    """For each of these contents, what ``detector`` found in an image of the owner with it
    (an empty list: it looked and found nothing), where it has looked at one."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    seen: dict[int, str] = {}  # one image a content
    found: dict[str, list[Detection]] = {}
    for image_id, sha in session.execute(
        sa.select(col(Image.id), col(Image.content_sha256)).where(
            col(Image.owner_id) == owner_id,
            col(Image.content_sha256).in_(wanted),
            col(Image.objects_model) == detector,
        )
    ):
        if sha not in found:
            seen[image_id] = sha
            found[sha] = []
    for row in session.execute(
        sa.select(ImageObject)
        .where(col(ImageObject.image_id).in_(list(seen)))
        .order_by(col(ImageObject.id))
    ).scalars():
        box = (row.x0, row.y0, row.x1, row.y1)
        found[seen[row.image_id]].append(Detection(row.label, row.confidence, box))
    return found

"""Task: compare an owner's newly analysed images with their library, then regroup.

Runs serialised per owner (one grouping worker in embedded mode). Each new image searches
the owner's hash index for neighbours within the near distance (all eight flips and turns),
so a batch costs index lookups, not a rescan of every pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core.features import pixel_digest
from backend.core.grouping import Edge, Tier, pair
from backend.core.hamming_index import HammingIndex
from backend.core.perceptual import to_unsigned, unpack_codes
from backend.db.engine import writer
from backend.db.locks import lock_owner
from backend.models import Image, ImagePair, ImageState
from backend.services.context import AppContext
from backend.services.grouping.regroup import regroup
from backend.services.jobs import count_progress
from backend.services.storage.blobstore import BlobNotFound, BlobStore

TASK_NAME = "grouping.update"
BATCH = 500
# Equal-size pictures this close get a full-pixel comparison: identical pixels are "exact".
EXACT_CANDIDATE_DISTANCE = 2


@dataclass
class _Known:
    id: int
    sha: str | None
    width: int | None
    height: int | None
    pixel_hash: str | None
    storage_key: str


def update_owner_groups(ctx: AppContext, owner_id: int, force: bool = False) -> None:
    """Compare the owner's analysed images with their library and regroup. Without new images
    there is nothing to regroup unless ``force`` (after a decision or a deletion)."""
    with Session(writer(ctx.engine), expire_on_commit=False) as session:
        lock_owner(session, owner_id)  # one grouping per owner at a time, on any machine
        new = session.exec(
            select(Image)
            .where(Image.owner_id == owner_id, Image.state == ImageState.ANALYSED)
            .order_by(col(Image.id))
            .limit(BATCH)
        ).all()
        if new:
            _compare(session, ctx, owner_id, list(new))
        if new or force:
            regroup(session, owner_id)
        session.commit()
    if len(new) == BATCH:
        ctx.jobs.enqueue(TASK_NAME, owner_id=owner_id)


def _compare(session: Session, ctx: AppContext, owner_id: int, new: list[Image]) -> None:
    index = HammingIndex(radius=ctx.settings.near_distance)
    known: dict[int, _Known] = {}
    by_sha: dict[str, list[int]] = {}
    rows = session.execute(
        sa.select(
            col(Image.id),
            col(Image.phash),
            col(Image.content_sha256),
            col(Image.width),
            col(Image.height),
            col(Image.pixel_hash),
            col(Image.storage_key),
        ).where(
            col(Image.owner_id) == owner_id,
            col(Image.state) == ImageState.READY,
            col(Image.phash).is_not(None),
        )
    )
    for row in rows:
        _remember(
            index, known, by_sha, _Known(row[0], row[2], row[3], row[4], row[5], row[6]), row[1]
        )

    edges: dict[tuple[int, int], Edge] = {}
    for image in new:
        assert image.id is not None and image.phash is not None and image.phash_dihedral
        me = _Known(
            image.id,
            image.content_sha256,
            image.width,
            image.height,
            image.pixel_hash,
            image.storage_key,
        )
        hits = index.search(unpack_codes(image.phash_dihedral))
        for other_id in by_sha.get(me.sha or "", []):
            hits[other_id] = 0
        for other_id, distance in hits.items():
            other = known[other_id]
            tier = Tier.NEAR
            if me.sha is not None and me.sha == other.sha:
                tier = Tier.EXACT
            elif distance <= EXACT_CANDIDATE_DISTANCE and (me.width, me.height) == (
                other.width,
                other.height,
            ):
                if _pixels(session, ctx.store, me) == _pixels(session, ctx.store, other):
                    tier = Tier.EXACT
            edges[pair(me.id, other_id)] = Edge(*pair(me.id, other_id), tier, float(distance))
        _remember(index, known, by_sha, me, image.phash)
        image.state = ImageState.READY
        session.add(image)
    _store_edges(session, owner_id, edges.values())
    count_progress(session, done=[i.job_id for i in new], failed=[])


def _remember(
    index: HammingIndex,
    known: dict[int, _Known],
    by_sha: dict[str, list[int]],
    item: _Known,
    phash: int | None,
) -> None:
    known[item.id] = item
    if item.sha:
        by_sha.setdefault(item.sha, []).append(item.id)
    if phash is not None:
        index.add(item.id, to_unsigned(phash))


def _pixels(session: Session, store: BlobStore, item: _Known) -> str | None:
    if item.pixel_hash is None:
        try:
            item.pixel_hash = pixel_digest(store.get(item.storage_key))
        except (BlobNotFound, ValueError, OSError):
            return None  # unreadable now: at worst the pair stays "near"
        session.execute(
            sa.update(Image).where(col(Image.id) == item.id).values(pixel_hash=item.pixel_hash)
        )
    return item.pixel_hash


def _store_edges(session: Session, owner_id: int, edges: object) -> None:
    for edge in edges:  # type: ignore[attr-defined]
        existing = session.get(ImagePair, (edge.a, edge.b))
        if existing is None:
            session.add(
                ImagePair(
                    owner_id=owner_id,
                    image_a=edge.a,
                    image_b=edge.b,
                    tier=edge.tier,
                    distance=edge.distance,
                )
            )
        elif edge.strength() < (0 if existing.tier == Tier.EXACT else 1, existing.distance):
            existing.tier, existing.distance = edge.tier, edge.distance
            session.add(existing)
    session.flush()

"""Task: compare an owner's newly analysed images with their library, then regroup.

Runs serialised per owner (one grouping worker in embedded mode). Each new image searches
the owner's hash index for neighbours within the near distance (all eight flips and turns),
so a batch costs index lookups, not a rescan of every pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

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


@dataclass
class _Known:
    id: int
    sha: str | None
    width: int | None
    height: int | None
    pixel_hash: str | None
    storage_key: str

    @classmethod
    def of(cls, image: Image) -> _Known:
        assert image.id is not None
        return cls(
            image.id,
            image.content_sha256,
            image.width,
            image.height,
            image.pixel_hash,
            image.storage_key,
        )

    def may_be_identical(self, other: _Known) -> bool:
        """Different bytes, same size and a near hash: only the pixels can tell."""
        return self.sha != other.sha and (self.width, self.height) == (other.width, other.height)


@dataclass
class _Library:
    """An owner's grouped images, searchable by hash (all eight flips and turns) and SHA-256."""

    index: HammingIndex
    known: dict[int, _Known] = field(default_factory=dict)
    by_sha: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, owner_id: int, radius: int) -> _Library:
        library = cls(HammingIndex(radius=radius))
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
            library.add(_Known(row[0], row[2], row[3], row[4], row[5], row[6]), row[1])
        return library

    def add(self, item: _Known, phash: int | None) -> None:
        self.known[item.id] = item
        if item.sha:
            self.by_sha.setdefault(item.sha, []).append(item.id)
        if phash is not None:
            self.index.add(item.id, to_unsigned(phash))

    def matches(self, item: _Known, dihedral: bytes) -> dict[int, int]:
        """Known images within the near distance of ``item``, with their hash distance."""
        hits = self.index.search(unpack_codes(dihedral))
        for other_id in self.by_sha.get(item.sha or "", []):
            hits[other_id] = 0
        return hits


def update_owner_groups(ctx: AppContext, owner_id: int, force: bool = False) -> None:
    """Compare the owner's analysed images with their library and regroup. Without new images
    there is nothing to regroup unless ``force`` (after a decision or a deletion)."""
    _prepare_pixel_digests(ctx, owner_id)
    with Session(writer(ctx.engine), expire_on_commit=False) as session:
        lock_owner(session, owner_id)  # one grouping per owner at a time, on any machine
        new = session.exec(_analysed(owner_id)).all()
        if new:
            _compare(session, ctx, owner_id, list(new))
        if new or force:
            regroup(session, owner_id)
        session.commit()
    if len(new) == BATCH:
        ctx.jobs.enqueue(TASK_NAME, owner_id=owner_id)


def _analysed(owner_id: int) -> SelectOfScalar[Image]:
    return (
        select(Image)
        .where(Image.owner_id == owner_id, Image.state == ImageState.ANALYSED)
        .order_by(col(Image.id))
        .limit(BATCH)
    )


def _prepare_pixel_digests(ctx: AppContext, owner_id: int) -> None:
    """Decode at full size, before any lock is taken, the images whose pixels the comparison
    will need; the locked phase then finds their digests stored (and stays short)."""
    todo: dict[int, _Known] = {}
    with Session(ctx.engine) as session:
        new = session.exec(_analysed(owner_id)).all()
        if not new:
            return
        library = _Library.load(session, owner_id, ctx.settings.near_distance)
    for image in new:
        me = _Known.of(image)
        if me.id in library.known:  # grouped by another worker between the two reads
            continue
        if image.phash_dihedral:
            for other_id in library.matches(me, image.phash_dihedral):
                other = library.known[other_id]
                if me.may_be_identical(other):
                    todo.update({k.id: k for k in (me, other) if k.pixel_hash is None})
        library.add(me, image.phash)
    digests = {i: d for i, k in todo.items() if (d := _digest(ctx.store, k)) is not None}
    # One row per transaction: such a write holds no lock while it waits for another, so it
    # can never deadlock with a grouping transaction that holds many.
    for image_id, digest in sorted(digests.items()):
        with Session(writer(ctx.engine)) as session:
            session.execute(
                sa.update(Image).where(col(Image.id) == image_id).values(pixel_hash=digest)
            )
            session.commit()


def _compare(session: Session, ctx: AppContext, owner_id: int, new: list[Image]) -> None:
    library = _Library.load(session, owner_id, ctx.settings.near_distance)
    edges: dict[tuple[int, int], Edge] = {}
    for image in new:
        assert image.phash is not None and image.phash_dihedral
        me = _Known.of(image)
        for other_id, distance in library.matches(me, image.phash_dihedral).items():
            other = library.known[other_id]
            tier = Tier.NEAR
            if me.sha is not None and me.sha == other.sha:
                tier = Tier.EXACT
            elif me.may_be_identical(other) and _pixels(session, ctx.store, me) == _pixels(
                session, ctx.store, other
            ):
                tier = Tier.EXACT
            edges[pair(me.id, other_id)] = Edge(*pair(me.id, other_id), tier, float(distance))
        library.add(me, image.phash)
        image.state = ImageState.READY
        session.add(image)
    _store_edges(session, owner_id, edges.values())
    count_progress(session, done=[i.job_id for i in new], failed=[])


def _digest(store: BlobStore, item: _Known) -> str | None:
    try:
        return pixel_digest(store.get(item.storage_key))
    except (BlobNotFound, ValueError, OSError):
        return None  # unreadable now: at worst the pair stays "near"


def _pixels(session: Session, store: BlobStore, item: _Known) -> str | None:
    """The stored digest; computed here only for an image that arrived after the prepare."""
    if item.pixel_hash is None:
        item.pixel_hash = _digest(store, item)
        if item.pixel_hash is not None:
            session.execute(
                sa.update(Image).where(col(Image.id) == item.id).values(pixel_hash=item.pixel_hash)
            )
    return item.pixel_hash


def _store_edges(session: Session, owner_id: int, edges: Iterable[Edge]) -> None:
    for edge in edges:
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

"""Task: compare an owner's newly analysed images with their library, then regroup.

Runs serialised per owner (one grouping worker in embedded mode). Each new image searches
the owner's hash index for neighbours within the near distance (all eight flips and turns)
and the owner's vector index for its nearest neighbours by each model (SSCD copy detection,
CLIP), so a batch costs index lookups, not a rescan of every pair. The evidence gathered for
each pair decides its tier (``core.evidence``) and is stored to explain it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from backend.core.evidence import Evidence, Thresholds, classify, count_people
from backend.core.features import pixel_digest
from backend.core.grouping import TIER_RANK, Tier, pair
from backend.core.hamming_index import HammingIndex
from backend.core.perceptual import to_unsigned, unpack_codes
from backend.db.engine import writer
from backend.db.locks import lock_owner
from backend.models import Image, ImageEmbedding, ImageObject, ImagePair, ImageState
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
    phash: int | None = None  # unsigned

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
            to_unsigned(image.phash) if image.phash is not None else None,
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
            phash = to_unsigned(row[1])
            library.add(_Known(row[0], row[2], row[3], row[4], row[5], row[6], phash), row[1])
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


@dataclass
class _Pair:
    """The evidence gathered for one pair during a comparison."""

    identical: bool = False
    hash_distance: int | None = None
    copy: float | None = None
    semantic: float | None = None


def _compare(session: Session, ctx: AppContext, owner_id: int, new: list[Image]) -> None:
    library = _Library.load(session, owner_id, ctx.settings.near_distance)
    found: dict[tuple[int, int], _Pair] = {}
    codes: dict[int, list[int]] = {}
    for image in new:
        assert image.phash is not None and image.phash_dihedral
        me = _Known.of(image)
        codes[me.id] = unpack_codes(image.phash_dihedral)
        for other_id, distance in library.matches(me, image.phash_dihedral).items():
            other = library.known[other_id]
            evidence = found.setdefault(pair(me.id, other_id), _Pair())
            evidence.hash_distance = distance
            if me.sha is not None and me.sha == other.sha:
                evidence.identical = True
            elif me.may_be_identical(other) and _pixels(session, ctx.store, me) == _pixels(
                session, ctx.store, other
            ):
                evidence.identical = True
        library.add(me, image.phash)
        image.state = ImageState.READY
        session.add(image)
    _vector_neighbours(session, ctx, owner_id, codes, library, found)
    thresholds = _thresholds(ctx)
    people = _people(session, ctx, found) if thresholds.check_people else {}
    edges: list[_Stored] = []
    for (a, b), ev in found.items():
        if ev.hash_distance is None:  # found by a model only: still say how far the hashes are
            ev.hash_distance = _hash_distance(codes, library, a, b)
        counts = (people[a], people[b]) if a in people and b in people else None
        tier = classify(
            Evidence(ev.identical, ev.hash_distance, ev.copy, ev.semantic, counts), thresholds
        )
        if tier is not None:
            bits = 0.0 if tier == Tier.EXACT else float(ev.hash_distance or 0)
            edges.append(_Stored(a, b, tier, bits, ev.copy, ev.semantic))
    _store_edges(session, owner_id, edges)
    count_progress(session, done=[i.job_id for i in new], failed=[])


def _thresholds(ctx: AppContext) -> Thresholds:
    s, models = ctx.settings, ctx.models
    return Thresholds(
        near_distance=s.near_distance,
        near_copy=s.near_copy_similarity if models.copy is not None else 2.0,
        similar_copy=s.similar_copy_threshold if models.copy is not None else None,
        similar_semantic=s.similar_clip_similarity if models.clip is not None else None,
        check_people=s.similar_object_check and models.detector is not None,
    )


def _vector_neighbours(
    session: Session,
    ctx: AppContext,
    owner_id: int,
    codes: dict[int, list[int]],
    library: _Library,
    found: dict[tuple[int, int], _Pair],
) -> None:
    """Each new image's nearest neighbours by each embedding model, among the grouped images
    and this batch (the others find this batch when their own turn comes)."""
    thresholds = _thresholds(ctx)
    searches = []
    if ctx.models.copy is not None:
        floor = thresholds.near_copy
        if thresholds.similar_semantic is None and thresholds.similar_copy is not None:
            floor = min(floor, thresholds.similar_copy)
        searches.append((ctx.models.copy.identity, floor, "copy"))
    if ctx.models.clip is not None and thresholds.similar_semantic is not None:
        searches.append((ctx.models.clip.identity, thresholds.similar_semantic, "semantic"))
    for model_name, floor, kind in searches:
        rows = session.execute(
            sa.select(col(ImageEmbedding.image_id), col(ImageEmbedding.vector)).where(
                col(ImageEmbedding.owner_id) == owner_id,
                col(ImageEmbedding.model_name) == model_name,
                col(ImageEmbedding.image_id).in_(list(codes)),
            )
        ).all()
        if not rows:
            continue
        queries = np.stack([np.frombuffer(v, dtype="<f4") for _, v in rows]).astype(np.float32)
        hits = ctx.vectors.search(
            session, owner_id, model_name, queries, ctx.settings.neighbours, floor
        )
        for (image_id, _), neighbours in zip(rows, hits, strict=True):
            for hit in neighbours:
                if hit.image_id == image_id or hit.image_id not in library.known:
                    continue
                evidence = found.setdefault(pair(image_id, hit.image_id), _Pair())
                if kind == "copy":
                    evidence.copy = max(evidence.copy or -1.0, hit.similarity)
                else:
                    evidence.semantic = max(evidence.semantic or -1.0, hit.similarity)


def _hash_distance(codes: dict[int, list[int]], library: _Library, a: int, b: int) -> int | None:
    """The best of the eight flips and turns of one image against the other's hash."""
    mine, other = (a, b) if a in codes else (b, a)
    target = library.known[other].phash
    if target is None or mine not in codes:
        return None
    return min(bin(code ^ target).count("1") for code in codes[mine])


def _people(
    session: Session, ctx: AppContext, found: dict[tuple[int, int], _Pair]
) -> dict[int, int]:
    """Prominent persons per image, for the images of candidate pairs that the current
    detector has looked at (an image it found nothing in counts 0)."""
    detector = ctx.models.detector
    if detector is None or not found:
        return {}
    ids = sorted({i for p in found for i in p})
    # Only images the current detector looked at: for the others the count is unknown.
    seen = {
        i
        for i in session.exec(
            select(Image.id).where(
                col(Image.id).in_(ids), col(Image.objects_model) == detector.identity
            )
        )
        if i is not None
    }
    boxes: dict[int, list[tuple[float, float, float, float, float]]] = {i: [] for i in seen}
    for image_id, conf, x0, y0, x1, y1 in session.execute(
        sa.select(
            col(ImageObject.image_id),
            col(ImageObject.confidence),
            col(ImageObject.x0),
            col(ImageObject.y0),
            col(ImageObject.x1),
            col(ImageObject.y1),
        ).where(
            col(ImageObject.image_id).in_(ids),
            col(ImageObject.model_name) == detector.identity,
            col(ImageObject.label) == "person",
        )
    ):
        boxes.setdefault(image_id, []).append((conf, x0, y0, x1, y1))
    counts = {image_id: count_people(found) for image_id, found in boxes.items()}
    return counts


@dataclass(frozen=True)
class _Stored:
    a: int
    b: int
    tier: Tier
    distance: float
    copy: float | None
    semantic: float | None


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


def _store_edges(session: Session, owner_id: int, edges: Iterable[_Stored]) -> None:
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
                    copy_similarity=edge.copy,
                    semantic_similarity=edge.semantic,
                )
            )
            continue
        if (TIER_RANK[edge.tier], edge.distance) < (TIER_RANK[existing.tier], existing.distance):
            existing.tier, existing.distance = edge.tier, edge.distance
        existing.copy_similarity = edge.copy if edge.copy is not None else existing.copy_similarity
        if edge.semantic is not None:
            existing.semantic_similarity = edge.semantic
        session.add(existing)
    session.flush()

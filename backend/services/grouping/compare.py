"""Compare a person's newly analysed images with their library: the pairs and their tiers.

Runs serialised per owner (see grouping/task.py). Each new image searches the owner's hash
index (kept in memory between runs: grouping/library.py) for neighbours within the near
distance (all eight flips and turns) and the owner's vector index for its nearest neighbours
by each model (SSCD copy detection, CLIP), so a batch costs index lookups and a read of the
rows it hits, not a read of the library. The evidence gathered for each pair decides its tier
(``core.evidence``) and is stored to explain it.

A pair that would be near (the same photograph) is verified first (``core.verify``): one
transform of the image plane must explain the picture, and EXIF must not say two captures;
otherwise it is another shot of the scene and is judged for the similar tier. The pictures are
decoded and verified before the owner's lock is taken (``prepare_pixel_digests``), and the
outcome is stored on the pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from backend.core import verify as geometry
from backend.core.decode import DecodeLimits, decode_reduced
from backend.core.evidence import (
    Capture,
    Evidence,
    Thresholds,
    classify,
    count_people,
    different_shots,
    seconds_apart,
)
from backend.core.features import pixel_digest
from backend.core.grouping import TIER_RANK, Tier, pair
from backend.core.perceptual import hamming, to_unsigned, unpack_codes
from backend.models import Image, ImageEmbedding, ImageObject, ImagePair, ImageState
from backend.services.context import AppContext
from backend.services.features.detect_objects import detect
from backend.services.grouping.library import HashLibrary
from backend.services.jobs import count_progress
from backend.services.storage.blobstore import BlobNotFound, BlobStore

BATCH = 500
Verified = dict[tuple[int, int], geometry.Verification]


@dataclass
class _Known:
    """What the comparison needs of an image it compares with."""

    id: int
    sha: str | None
    width: int | None
    height: int | None
    pixel_hash: str | None
    storage_key: str
    phash: int | None = None  # unsigned
    capture: Capture = Capture()

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
            _capture(
                image.taken_at,
                image.taken_subsec,
                image.unique_id,
                image.shutter_count,
                image.camera_make,
                image.camera_model,
            ),
        )

    def may_be_identical(self, other: _Known) -> bool:
        """Different bytes, same size and a near hash: only the pixels can tell."""
        return self.sha != other.sha and (self.width, self.height) == (other.width, other.height)


def _grouped(session: Session, owner_id: int, ids: Iterable[int]) -> dict[int, _Known]:
    """The rows of the hits that are really in the person's grouped library (the in-memory
    index may still hold images deleted or sent back to the models since)."""
    wanted = sorted(set(ids))
    out: dict[int, _Known] = {}
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
            ).where(
                col(Image.owner_id) == owner_id,
                col(Image.id).in_(wanted[start : start + 5000]),
                col(Image.state) == ImageState.READY,
            )
        ):
            phash = to_unsigned(row[6]) if row[6] is not None else None
            capture = _capture(*row[7:13])
            out[row[0]] = _Known(row[0], row[1], row[2], row[3], row[4], row[5], phash, capture)
    return out


def _capture(
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


def _hash_hits(
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


@dataclass(frozen=True)
class Batch:
    """What was prepared before the lock: for which of the waiting images, and the pairs
    verified. The locked phase compares those images only (later arrivals wait for the next
    run, which prepares them): nothing is decoded or verified under the lock."""

    image_ids: frozenset[int]
    verified: Verified


def prepare_pixel_digests(ctx: AppContext, owner_id: int) -> Batch:
    """Decode at full size, before any lock is taken, the images whose pixels the comparison
    will need; the locked phase then finds their digests stored (and stays short). Then verify
    the pairs that would be near (``prepare_verification``) and detect the people in the
    images of pairs that may end similar (the people check asks for them)."""
    with Session(ctx.engine) as session:
        ids = frozenset(i.id for i in session.exec(analysed(owner_id)).all() if i.id is not None)
    if not ids:
        return Batch(ids, {})
    _prepare_digests(ctx, owner_id, ids)
    verified, people = prepare_verification(ctx, owner_id, ids)
    if people:
        detect(ctx, owner_id, people)
    return Batch(ids, verified)


def _waiting(session: Session, owner_id: int, ids: frozenset[int]) -> list[Image]:
    return [i for i in session.exec(analysed(owner_id)).all() if i.id in ids]


def _prepare_digests(ctx: AppContext, owner_id: int, ids: frozenset[int]) -> None:
    todo: dict[int, _Known] = {}
    with Session(ctx.engine) as session:
        new = _waiting(session, owner_id, ids)
        if not new:
            return
        library = ctx.hash_libraries.of(owner_id)
        library.refresh(session)
        hits, _ = _hash_hits(library, new)
        batch = {k.id: k for k in map(_Known.of, new)}
        known = _grouped(session, owner_id, {o for h in hits.values() for o in h}) | batch
    for image_id, neighbours in hits.items():
        me = batch[image_id]
        for other_id in neighbours:
            other = known.get(other_id)
            if other is not None and me.may_be_identical(other):
                todo.update({k.id: k for k in (me, other) if k.pixel_hash is None})
    limits = ctx.settings.decode_limits
    digests = {i: d for i, k in todo.items() if (d := _digest(ctx.store, k, limits)) is not None}
    # One row per transaction: such a write holds no lock while it waits for another, so it
    # can never deadlock with a grouping transaction that holds many.
    for image_id, digest in sorted(digests.items()):
        with ctx.session(write=True) as session:
            session.execute(
                sa.update(Image).where(col(Image.id) == image_id).values(pixel_hash=digest)
            )


@dataclass
class _Pair:
    """The evidence gathered for one pair during a comparison."""

    identical: bool = False
    hash_distance: int | None = None
    copy: float | None = None
    semantic: float | None = None


def _gather(
    session: Session,
    ctx: AppContext,
    owner_id: int,
    new: list[Image],
    pixels: Callable[[_Known], str | None],
) -> tuple[dict[tuple[int, int], _Pair], dict[int, _Known], dict[int, list[int]]]:
    """The candidate pairs of the new images and their evidence; the images they involve; the
    new images' hash variants."""
    library = ctx.hash_libraries.of(owner_id)
    library.refresh(session)  # under the owner's lock: every earlier run is visible
    hits, codes = _hash_hits(library, new)
    vector_hits = _vector_neighbours(session, ctx, owner_id, list(codes))
    batch = {k.id: k for k in map(_Known.of, new)}
    burst_hits = _capture_neighbours(session, owner_id, new, ctx.settings.burst_seconds)
    others = {o for h in hits.values() for o in h} | {o for _, o, _, _ in vector_hits}
    others |= {o for _, o in burst_hits}
    known = _grouped(session, owner_id, others - set(batch)) | batch

    found: dict[tuple[int, int], _Pair] = {}
    for image_id, neighbours in hits.items():
        me = batch[image_id]
        for other_id, distance in neighbours.items():
            other = known.get(other_id)
            if other is None:
                continue  # deleted or sent back to the models since the index saw it
            evidence = found.setdefault(pair(image_id, other_id), _Pair())
            evidence.hash_distance = distance
            if me.sha is not None and me.sha == other.sha:
                evidence.identical = True
            elif me.may_be_identical(other) and pixels(me) == pixels(other) is not None:
                evidence.identical = True
    for image_id, other_id, kind, similarity in vector_hits:
        if other_id == image_id or other_id not in known:
            continue
        evidence = found.setdefault(pair(image_id, other_id), _Pair())
        if kind == "copy":
            evidence.copy = max(evidence.copy or -1.0, similarity)
        else:
            evidence.semantic = max(evidence.semantic or -1.0, similarity)
    for image_id, other_id in burst_hits:
        if other_id != image_id and other_id in known:
            found.setdefault(pair(image_id, other_id), _Pair())
    for (a, b), ev in found.items():
        if ev.hash_distance is None:  # found by a model only: still say how far the hashes are
            ev.hash_distance = _hash_distance(codes, known, a, b)
    return found, known, codes


def _would_be_near(ev: _Pair, t: Thresholds) -> bool:
    """What verification looks at: a pair the copy signals alone would call near."""
    if ev.identical:
        return False
    return classify(Evidence(False, ev.hash_distance, ev.copy), t) == Tier.NEAR


def prepare_verification(
    ctx: AppContext, owner_id: int, ids: frozenset[int]
) -> tuple[Verified, set[int]]:
    """Verify, before any lock is taken, the pairs of the waiting images that would be near;
    each picture is decoded once at a reduced size, however many pairs it is in. Also says
    which images the people check will ask about: those of the pairs that may end similar."""
    thresholds = _thresholds(ctx)
    verify = ctx.settings.verify_copies
    if not verify and not thresholds.check_people:
        return {}, set()
    with Session(ctx.engine) as session:
        new = _waiting(session, owner_id, ids)
        if not new:
            return {}, set()
        found, known, _ = _gather(session, ctx, owner_id, new, lambda k: k.pixel_hash)
        near = {p for p, ev in found.items() if _would_be_near(ev, thresholds)}
        earlier = {p: _stored_verdict(session, p) for p in near}
        involved = {i for p in near for i in p}
        # Pictures already known to be one photograph: identical, or a stored copy pair.
        same = [p for p, ev in found.items() if ev.identical and set(p) <= involved]
        same += _stored_copies(session, owner_id, involved) if verify else []
    todo = [
        p
        for p in near
        if verify
        and different_shots(known[p[0]].capture, known[p[1]].capture) is None
        and earlier[p] is None
    ]
    # Strongest evidence first, so the pairs that join a family are its clearest ones.
    todo.sort(key=lambda p: (found[p].hash_distance or 64, -(found[p].copy or 0.0), p))
    out = _verify_pairs(ctx, known, todo, same)
    if not thresholds.check_people:
        return out, set()
    people: set[int] = set()
    for p, ev in found.items():
        verdict = out[p].verdict.value if p in out else earlier.get(p)
        evidence = Evidence(
            ev.identical,
            ev.hash_distance,
            ev.copy,
            ev.semantic,
            other_shot=p in near
            and (
                verdict == geometry.Verdict.OTHER_SHOT.value
                or different_shots(known[p[0]].capture, known[p[1]].capture) is not None
            ),
            different=p in near and verdict == geometry.Verdict.DIFFERENT.value,
            seconds_apart=seconds_apart(known[p[0]].capture, known[p[1]].capture),
        )
        if classify(evidence, thresholds) == Tier.SIMILAR:
            people.update(p)
    return out, people


def _verify_pairs(
    ctx: AppContext,
    known: dict[int, _Known],
    todo: list[tuple[int, int]],
    same: list[tuple[int, int]],
) -> Verified:
    """Verify ``todo`` in order. Two pictures that verified copies (or ``same``, pictures
    already known to be one photograph) have joined are copies of that one photograph: such a
    pair is not verified again (a family of n copies costs n - 1 verifications, not n(n-1)/2;
    the groups join them through the others anyway)."""
    root: dict[int, int] = {}

    def find(x: int) -> int:
        while root.get(x, x) != x:
            x = root[x]
        return x

    for a, b in same:
        root[find(a)] = find(b)
    prepared: dict[int, geometry.Prepared | None] = {}
    out: Verified = {}
    for a, b in todo:
        if find(a) == find(b):
            out[(a, b)] = geometry.through_copies()
            continue
        for i in (a, b):
            if i not in prepared:
                prepared[i] = _prepare_picture(ctx.store, known[i], ctx.settings.decode_limits)
        pa, pb = prepared[a], prepared[b]
        if pa is not None and pb is not None:
            out[(a, b)] = found = geometry.verify(pa, pb)
            if found.verdict == geometry.Verdict.COPY:
                root[find(a)] = find(b)
    return out


def _stored_copies(session: Session, owner_id: int, ids: set[int]) -> list[tuple[int, int]]:
    """The owner's stored pairs among ``ids`` proven one photograph: exact, or near and
    verified a copy. A near pair that was never verified, or whose check could not decide,
    joins nothing: the copies reached through it would be unproven."""
    if not ids:
        return []
    rows = session.exec(
        select(ImagePair.image_a, ImagePair.image_b).where(
            ImagePair.owner_id == owner_id,
            col(ImagePair.image_a).in_(ids),
            col(ImagePair.image_b).in_(ids),
            sa.or_(
                col(ImagePair.tier) == Tier.EXACT,
                sa.and_(
                    col(ImagePair.tier) == Tier.NEAR,
                    col(ImagePair.verdict) == geometry.Verdict.COPY.value,
                ),
            ),
        )
    ).all()
    return [(a, b) for a, b in rows]


def _stored_verdict(session: Session, key: tuple[int, int]) -> str | None:
    """The verdict of a pair verified in an earlier run, if any."""
    stored = session.get(ImagePair, key)
    return stored.verdict if stored is not None else None


def _prepare_picture(
    store: BlobStore, item: _Known, limits: DecodeLimits
) -> geometry.Prepared | None:
    try:
        _, picture = decode_reduced(store.get(item.storage_key), geometry.LONG_SIDE, limits)
    except (BlobNotFound, ValueError, OSError):
        return None  # unreadable now: the pair stays as its evidence says
    return geometry.prepare(picture)


def compare(
    session: Session,
    ctx: AppContext,
    owner_id: int,
    new: list[Image],
    verified: Verified | None = None,
) -> set[int]:
    """Find and store the pairs that the new images form with the library and with each other;
    the new images become READY (in this grouping run, ``seq``). Returns the images of the
    pairs stored: their groups need rebuilding. ``verified``: the verifications done before
    the lock (``prepare_pixel_digests``); a pair missing there is verified here."""
    found, known, _ = _gather(session, ctx, owner_id, new, lambda k: _pixels(session, ctx, k))
    verified = dict(verified or {})
    seq = _next_seq(session, owner_id)
    for image in new:
        image.state, image.grouped_seq = ImageState.READY, seq
        session.add(image)
    thresholds = _thresholds(ctx)
    people = _people(session, ctx, found) if thresholds.check_people else {}
    edges: list[_Stored] = []
    for (a, b), ev in found.items():
        counts = (people[a], people[b]) if a in people and b in people else None
        ca, cb = known[a].capture, known[b].capture
        check = _Check()
        if _would_be_near(ev, thresholds):
            check = _check(session, ctx, known, verified, (a, b))
        evidence = Evidence(
            ev.identical,
            ev.hash_distance,
            ev.copy,
            ev.semantic,
            counts,
            other_shot=check.other_shot,
            different=check.different,
            seconds_apart=seconds_apart(ca, cb),
        )
        tier = classify(evidence, thresholds)
        if tier is not None:
            bits = 0.0 if tier == Tier.EXACT else float(ev.hash_distance or 0)
            edges.append(_Stored(a, b, tier, bits, ev.copy, ev.semantic, check))
    _store_edges(session, owner_id, edges)
    count_progress(session, done=[i.job_id for i in new], failed=[])
    return {i for e in edges for i in (e.a, e.b)}


def _next_seq(session: Session, owner_id: int) -> int:
    """This grouping run's number for the owner (runs are serialised by the owner's lock)."""
    last = session.execute(
        sa.select(sa.func.max(col(Image.grouped_seq))).where(col(Image.owner_id) == owner_id)
    ).scalar()
    return int(last or 0) + 1


def _thresholds(ctx: AppContext) -> Thresholds:
    s, models = ctx.settings, ctx.ml
    return Thresholds(
        near_distance=s.near_distance,
        near_copy=s.near_copy_similarity if models.copy is not None else 2.0,
        similar_copy=s.similar_copy_threshold if models.copy is not None else None,
        similar_semantic=s.similar_clip_similarity if models.clip is not None else None,
        check_people=s.similar_object_check and models.detector is not None,
        burst_seconds=s.burst_seconds or None,
    )


def _vector_neighbours(
    session: Session, ctx: AppContext, owner_id: int, new: list[int]
) -> list[tuple[int, int, str, float]]:
    """Each new image's nearest neighbours by each embedding model, as (image, neighbour,
    "copy" | "semantic", similarity): among the grouped images and this batch (the others
    find this batch when their own turn comes)."""
    thresholds = _thresholds(ctx)
    searches = []
    if ctx.ml.copy is not None:
        floor = thresholds.near_copy
        if thresholds.similar_semantic is None and thresholds.similar_copy is not None:
            floor = min(floor, thresholds.similar_copy)
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
    codes: dict[int, list[int]], known: dict[int, _Known], a: int, b: int
) -> int | None:
    """The best of the eight flips and turns of one image against the other's hash."""
    mine, other = (a, b) if a in codes else (b, a)
    target = known[other].phash if other in known else None
    if target is None or mine not in codes:
        return None
    return min(hamming(code, target) for code in codes[mine])


def _people(
    session: Session, ctx: AppContext, found: dict[tuple[int, int], _Pair]
) -> dict[int, int]:
    """Prominent persons per image, for the images of candidate pairs that the current
    detector has looked at (an image it found nothing in counts 0)."""
    detector = ctx.ml.detector
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
class _Check:
    """What decided whether a would-be near pair is one photograph: EXIF or verification."""

    other_shot: bool = False
    different: bool = False
    verdict: str | None = None
    explained: float | None = None
    inlier_ratio: float | None = None
    decided_by: str | None = None


def _check(
    session: Session,
    ctx: AppContext,
    known: dict[int, _Known],
    verified: Verified,
    key: tuple[int, int],
) -> _Check:
    a, b = known[key[0]], known[key[1]]
    reason = different_shots(a.capture, b.capture)
    if reason is not None:
        return _Check(True, verdict=geometry.Verdict.OTHER_SHOT.value, decided_by=reason)
    if not ctx.settings.verify_copies:
        return _Check()
    found = verified.get(key)
    if found is None:
        stored = session.get(ImagePair, key)
        if stored is not None and stored.verdict is not None:  # verified in an earlier run
            return _Check(
                stored.verdict == geometry.Verdict.OTHER_SHOT.value,
                stored.verdict == geometry.Verdict.DIFFERENT.value,
                stored.verdict,
                stored.explained,
                stored.inlier_ratio,
                stored.decided_by,
            )
        limits = ctx.settings.decode_limits
        pa, pb = _prepare_picture(ctx.store, a, limits), _prepare_picture(ctx.store, b, limits)
        if pa is None or pb is None:
            return _Check()
        found = geometry.verify(pa, pb)  # arrived after the prepare: rare
    return _Check(
        found.verdict == geometry.Verdict.OTHER_SHOT,
        found.verdict == geometry.Verdict.DIFFERENT,
        found.verdict.value,
        found.explained,
        found.inlier_ratio,
        found.explanation(),
    )


@dataclass(frozen=True)
class _Stored:
    a: int
    b: int
    tier: Tier
    distance: float
    copy: float | None
    semantic: float | None
    check: _Check = _Check()


def _digest(store: BlobStore, item: _Known, limits: DecodeLimits) -> str | None:
    """Streamed over bands of rows: one picture's decoded pixels at a time, never two full
    decodes side by side (pictures over the decode budget give none)."""
    try:
        return pixel_digest(store.get(item.storage_key), limits)
    except (BlobNotFound, ValueError, OSError):
        return None  # unreadable now, or too large to decode: at worst the pair stays "near"


def _pixels(session: Session, ctx: AppContext, item: _Known) -> str | None:
    """The stored digest; computed here only for an image that arrived after the prepare."""
    if item.pixel_hash is None:
        item.pixel_hash = _digest(ctx.store, item, ctx.settings.decode_limits)
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
                    verdict=edge.check.verdict,
                    explained=edge.check.explained,
                    inlier_ratio=edge.check.inlier_ratio,
                    decided_by=edge.check.decided_by,
                )
            )
            continue
        if (TIER_RANK[edge.tier], edge.distance) < (TIER_RANK[existing.tier], existing.distance):
            existing.tier, existing.distance = edge.tier, edge.distance
        existing.copy_similarity = edge.copy if edge.copy is not None else existing.copy_similarity
        if edge.semantic is not None:
            existing.semantic_similarity = edge.semantic
        if edge.check.verdict is not None:
            existing.verdict, existing.decided_by = edge.check.verdict, edge.check.decided_by
            existing.explained = edge.check.explained
            existing.inlier_ratio = edge.check.inlier_ratio
        session.add(existing)
    session.flush()

"""Compare a person's newly analysed images with their library: the pairs and their tiers.

Runs serialised per owner, under the owner's lock (see grouping/task.py), on the batch that
``prepare.py`` made ready: the candidates and their evidence (``candidates.py``) decide each
pair's tier (``core.evidence``), and the evidence is stored to explain it. A pair that would
be near (the same photograph) must pass verification, and EXIF must not say two captures;
otherwise it is another shot of the scene and is judged for the similar tier.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core import verify as geometry
from backend.core.evidence import (
    Evidence,
    classify,
    count_people,
    different_shots,
    seconds_apart,
)
from backend.core.grouping import TIER_RANK, Tier
from backend.models import Image, ImageObject, ImagePair, ImageState
from backend.services.context import AppContext
from backend.services.grouping.ahead import Gathered, still_current
from backend.services.grouping.candidates import (
    Known,
    PairEvidence,
    gather,
    read_pixel_digest,
    thresholds_for,
    to_verify,
)
from backend.services.grouping.copied_pairs import stored_verdicts
from backend.services.grouping.prepare import Verified, prepare_picture
from backend.services.jobs import count_progress


def compare(
    session: Session,
    ctx: AppContext,
    owner_id: int,
    new: list[Image],
    verified: Verified | None = None,
    gathered: Gathered | None = None,
) -> set[int]:
    """Find and store the pairs that the new images form with the library and with each other;
    the new images become READY (in this grouping run, ``seq``). Returns the images of the
    pairs stored: their groups need rebuilding. ``verified`` and ``gathered``: the
    verifications and the candidate pairs found before the lock (``prepare_batch``); the
    pairs are gathered again here if the library changed since, and a pair missing from
    ``verified`` is verified here."""
    current = still_current(session, owner_id, new, gathered) if gathered else None
    if current is None:
        found, known, _ = gather(session, ctx, owner_id, new, lambda k: _pixels(session, ctx, k))
    else:
        found, known = current
    verified = dict(verified or {})
    seq = _next_seq(session, owner_id)
    for image in new:
        image.state, image.grouped_seq = ImageState.READY, seq
        session.add(image)
    thresholds = thresholds_for(ctx)
    people = _people(session, ctx, found) if thresholds.check_people else {}
    edges: list[_Stored] = []
    # Verified in an earlier run, or a pair of byte copies of its pictures was.
    to_check = {
        p: (known[p[0]].sha, known[p[1]].sha)
        for p, ev in found.items()
        if p not in verified and to_verify(ev, thresholds)
    }
    stored = stored_verdicts(session, owner_id, to_check) if ctx.settings.verify_copies else {}
    for (a, b), ev in found.items():
        counts = (people[a], people[b]) if a in people and b in people else None
        ca, cb = known[a].capture, known[b].capture
        check = _Check()
        if to_verify(ev, thresholds):
            check = _check(ctx, owner_id, known, verified, stored, (a, b))
        evidence = Evidence(
            ev.identical,
            ev.hash_distance,
            ev.copy,
            ev.semantic,
            counts,
            other_shot=check.other_shot,
            different=check.different,
            seconds_apart=seconds_apart(ca, cb),
            verified_copy=check.verdict == geometry.Verdict.COPY.value,
            undecided=check.verdict == geometry.Verdict.UNDECIDED.value,
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


def _people(
    session: Session, ctx: AppContext, found: dict[tuple[int, int], PairEvidence]
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
    moved: float | None = None  # share that moved on its own (core.verify step 4)


def _check(
    ctx: AppContext,
    owner_id: int,
    known: dict[int, Known],
    verified: Verified,
    stored: dict[tuple[int, int], ImagePair],
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
        earlier = stored.get(key)
        if earlier is not None and earlier.verdict is not None:
            return _Check(
                earlier.verdict == geometry.Verdict.OTHER_SHOT.value,
                earlier.verdict == geometry.Verdict.DIFFERENT.value,
                earlier.verdict,
                earlier.explained,
                earlier.inlier_ratio,
                earlier.decided_by,
                earlier.moved,
            )
        found = ctx.verdicts.get(owner_id, a.sha, b.sha)  # a byte copy's pair verified before
    if found is None:
        limits = ctx.settings.decode_limits
        pa, pb = prepare_picture(ctx.store, a, limits), prepare_picture(ctx.store, b, limits)
        if pa is None or pb is None:
            return _Check()
        found = geometry.verify(pa, pb)  # arrived after the prepare: rare
        ctx.verdicts.put(owner_id, a.sha, b.sha, found)
    return _Check(
        found.verdict == geometry.Verdict.OTHER_SHOT,
        found.verdict == geometry.Verdict.DIFFERENT,
        found.verdict.value,
        found.explained,
        found.inlier_ratio,
        found.explanation(),
        found.motion,
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


def _pixels(session: Session, ctx: AppContext, item: Known) -> str | None:
    """The stored digest; computed here only for an image that arrived after the prepare."""
    if item.pixel_hash is None:
        item.pixel_hash = read_pixel_digest(ctx.store, item, ctx.settings.decode_limits)
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
                    moved=edge.check.moved,
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
            existing.inlier_ratio, existing.moved = edge.check.inlier_ratio, edge.check.moved
        session.add(existing)
    session.flush()

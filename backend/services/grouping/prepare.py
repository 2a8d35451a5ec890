"""What grouping does before it takes the person's lock, so the locked phase stays short.

The pictures whose pixels the comparison needs are decoded (their exact-pixel digests stored),
the pairs that would be near, or that SSCD finds close enough for a verified copy to be near,
are verified (``core.verify``: one transform of the image plane must explain the picture), and
the images of pairs that may end similar meet the object detector (the people check asks for
them). A family of n copies costs n - 1 verifications: two pictures already joined through
verified copies are copies through them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core import verify as geometry
from backend.core.decode import DecodeLimits, decode_reduced
from backend.core.evidence import (
    Evidence,
    classify,
    different_shots,
    seconds_apart,
)
from backend.core.grouping import Tier
from backend.models import Image, ImagePair
from backend.services.context import AppContext
from backend.services.features.detect_objects import detect
from backend.services.features.twins import twin_pixel_hashes
from backend.services.grouping.ahead import Gathered, Mark, gather_ahead, library_mark
from backend.services.grouping.candidates import (
    Known,
    analysed,
    grouped,
    hash_hits,
    read_pixel_digest,
    thresholds_for,
    to_verify,
)
from backend.services.grouping.copied_pairs import stored_verdicts
from backend.services.grouping.picture_cache import PICTURES, REDUCED
from backend.services.grouping.verdict_cache import content_pair
from backend.services.storage.blobstore import BlobNotFound, BlobStore

Verified = dict[tuple[int, int], geometry.Verification]


@dataclass(frozen=True)
class Batch:
    """What was prepared before the lock: for which of the waiting images, and the pairs
    verified. The locked phase compares those images only (later arrivals wait for the next
    run, which prepares them): nothing is decoded or verified under the lock."""

    image_ids: frozenset[int]
    verified: Verified
    gathered: Gathered | None = None  # the candidate pairs, used under the lock if current


def prepare_batch(ctx: AppContext, owner_id: int) -> Batch:
    """Decode at full size, before any lock is taken, the images whose pixels the comparison
    will need; the locked phase then finds their digests stored (and stays short). Then find
    the candidate pairs, verify those that would be near (``prepare_verification``) and detect
    the people in the images of pairs that may end similar (the people check asks for them)."""
    with Session(ctx.engine) as session:
        ids = frozenset(i.id for i in session.exec(analysed(owner_id)).all() if i.id is not None)
    if not ids:
        return Batch(ids, {})
    mark = _prepare_digests(ctx, owner_id, ids)
    gathered, verified, people = prepare_verification(ctx, owner_id, ids, mark)
    if people:
        detect(ctx, owner_id, people)
    return Batch(ids, verified, gathered)


def _waiting(session: Session, owner_id: int, ids: frozenset[int]) -> list[Image]:
    return [i for i in session.exec(analysed(owner_id)).all() if i.id in ids]


def _prepare_digests(ctx: AppContext, owner_id: int, ids: frozenset[int]) -> Mark:
    """Store the digests the pairs of the waiting images may need; returns the library's mark
    taken before their search, for the pairs gathered later (ahead.py)."""
    todo: dict[int, Known] = {}
    with Session(ctx.engine) as session:
        mark = library_mark(session, owner_id)
        new = _waiting(session, owner_id, ids)
        if not new:
            return mark
        library = ctx.hash_libraries.of(owner_id)
        library.refresh(session)
        hits, _ = hash_hits(library, new)
        batch = {k.id: k for k in map(Known.of, new)}
        known = grouped(session, owner_id, {o for h in hits.values() for o in h}) | batch
    for image_id, neighbours in hits.items():
        me = batch[image_id]
        for other_id, distance in neighbours.items():
            other = known.get(other_id)
            if other is not None and me.may_be_identical(other, distance):
                todo.update({k.id: k for k in (me, other) if k.pixel_hash is None})
    # One full-size decode a content: a byte copy takes its twin's digest (twins.py).
    with Session(ctx.engine) as session:
        stored = twin_pixel_hashes(session, owner_id, (k.sha for k in todo.values() if k.sha))
    first: dict[str, int] = {}  # content -> the image decoded for it
    items: list[tuple[int, Known]] = []
    for i, k in sorted(todo.items()):
        if k.sha is None or (k.sha not in stored and first.setdefault(k.sha, i) == i):
            items.append((i, k))
    limits = ctx.settings.decode_limits
    with _helpers(ctx, len(items)) as pool:
        found = list(pool.map(lambda item: read_pixel_digest(ctx.store, item[1], limits), items))
    digests = {i: d for (i, _), d in zip(items, found, strict=True) if d is not None}
    for i, k in todo.items():
        if i not in digests and k.sha is not None:
            digest = stored.get(k.sha) or digests.get(first.get(k.sha, i))
            if digest is not None:
                digests[i] = digest
    # One row per transaction: such a write holds no lock while it waits for another, so it
    # can never deadlock with a grouping transaction that holds many.
    for image_id, digest in sorted(digests.items()):
        with ctx.session(write=True) as session:
            session.execute(
                sa.update(Image).where(col(Image.id) == image_id).values(pixel_hash=digest)
            )
    return mark


def prepare_verification(
    ctx: AppContext, owner_id: int, ids: frozenset[int], mark: Mark
) -> tuple[Gathered | None, Verified, set[int]]:
    """Find the candidate pairs of the waiting images (the locked phase takes them as they
    are unless the library changed meanwhile) and verify, before any lock is taken, those
    that would be near; each picture is decoded once at a reduced size, however many pairs it
    is in. Also says which images the people check will ask about: those of the pairs that
    may end similar."""
    thresholds = thresholds_for(ctx)
    verify = ctx.settings.verify_copies
    with Session(ctx.engine) as session:
        new = _waiting(session, owner_id, ids)
        if not new:
            return None, {}, set()
        gathered = gather_ahead(session, ctx, owner_id, new, mark)
        found, known = gathered.found, gathered.known
        if not verify and not thresholds.check_people:
            return gathered, {}, set()
        near = {p for p, ev in found.items() if to_verify(ev, thresholds)}
        # Verified in an earlier run, or a pair of byte copies of its pictures was.
        stored = stored_verdicts(
            session, owner_id, {p: (known[p[0]].sha, known[p[1]].sha) for p in near}
        )
        earlier = {p: stored[p].verdict if p in stored else None for p in near}
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
    out = _verify_pairs(ctx, owner_id, known, todo, same)
    if not thresholds.check_people:
        return gathered, out, set()
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
            verified_copy=p in near and verdict == geometry.Verdict.COPY.value,
            undecided=p in near and verdict == geometry.Verdict.UNDECIDED.value,
        )
        if classify(evidence, thresholds) == Tier.SIMILAR:
            people.update(p)
    return gathered, out, people


def _verify_pairs(
    ctx: AppContext,
    owner_id: int,
    known: dict[int, Known],
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
    out: Verified = {}
    # The pictures are decoded and their keypoints found on helper threads, in the order the
    # pairs need them, while this thread verifies; those no pair needed in the end are
    # cancelled if they have not started.
    # A byte copy of a pair verified before takes its verdict (verdict_cache.py): the
    # pictures are prepared ahead for the first pair of each two contents only.
    first: list[tuple[int, int]] = []
    contents: set[tuple[str, str]] = set()
    for a, b in todo:
        key = content_pair(known[a].sha, known[b].sha)
        if key is None or (key not in contents and ctx.verdicts.get(owner_id, *key) is None):
            first.append((a, b))
        if key is not None:
            contents.add(key)
    needed = list(dict.fromkeys(i for p in first for i in p))
    limits = ctx.settings.decode_limits
    pool = _helpers(ctx, len(needed))
    try:
        prepared = {i: pool.submit(prepare_picture, ctx.store, known[i], limits) for i in needed}

        def picture(i: int) -> geometry.Prepared | None:
            if i not in prepared:  # its content's first pair was joined through copies
                prepared[i] = pool.submit(prepare_picture, ctx.store, known[i], limits)
            return prepared[i].result()

        for a, b in todo:
            if find(a) == find(b):
                out[(a, b)] = geometry.through_copies()
                continue
            found = ctx.verdicts.get(owner_id, known[a].sha, known[b].sha)
            if found is None:
                pa, pb = picture(a), picture(b)
                if pa is None or pb is None:
                    continue
                found = geometry.verify(pa, pb)
                ctx.verdicts.put(owner_id, known[a].sha, known[b].sha, found)
            out[(a, b)] = found
            if found.verdict == geometry.Verdict.COPY:
                root[find(a)] = find(b)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def _helpers(ctx: AppContext, jobs: int) -> ThreadPoolExecutor:
    """Threads for the decodes of the prepare phase: the other queues are usually idle by
    then (grouping comes last), Pillow and OpenCV work without the GIL, and the decode budget
    bounds the memory they take together."""
    workers = max(1, min(ctx.settings.threads, jobs))
    return ThreadPoolExecutor(workers, thread_name_prefix="dupfinder-prepare")


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


def prepare_picture(
    store: BlobStore, item: Known, limits: DecodeLimits
) -> geometry.Prepared | None:
    """The picture reduced and its keypoints found: kept between runs (``PICTURES``)."""

    def make() -> geometry.Prepared | None:
        grey = REDUCED.take(item.storage_key)  # the models' decode, when it is still kept
        if grey is None:
            try:
                _, picture = decode_reduced(store.get(item.storage_key), geometry.LONG_SIDE, limits)
            except (BlobNotFound, ValueError, OSError):
                return None  # unreadable now: the pair stays as its evidence says
            grey = geometry.reduce(picture)
        return geometry.prepare_grey(grey)

    return PICTURES.get(item.storage_key, make)

"""Objects in photos (YOLO), run where their answer is used.

The detector is a third of a scan's work (bench/RESULTS.md, "Speed vs immaculate"), and its
answer is used twice: the similar tier's people check (a group photo and a portrait taken there
are not "the same shot") needs the persons in the images of pairs that may end up similar, and
tags filter groups in the web UI. So grouping asks for the first, for those images only, before
it takes the owner's lock (``detect``); the tags of every other image are filled afterwards by
the ``objects.detect`` task (``fill_tags``) on the model queue, sent once the images are grouped
and run once none of the person's photos is still on its way, so the groups never wait for
them (a Celery worker with the tags of each batch in between took twice as long to group an
upload: bench/RESULTS.md, "Distributed mode ... models on"). A scan shows no tags and skips the fill
(``DUPFINDER_OBJECT_TAGS``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.core.decode import decode_reduced
from backend.ml.base import RGBImage
from backend.ml.images import rgb_array
from backend.ml.yolo import Detection
from backend.models import Image, ImageObject, ImageState
from backend.models.image import UNFINISHED
from backend.services.context import AppContext
from backend.services.features.inference import BATCH, DECODE_SIDE, loads, run_model
from backend.services.features.twins import twin_detections
from backend.services.pipeline import DETECT
from backend.services.storage.blobstore import BlobNotFound

log = logging.getLogger(__name__)
# Seconds between looks while the owner's photos are still on their way (the tags wait for the
# whole upload, not only for the groups of the batch before).
TAGS_WAIT = 2.0


def _not_looked_at(identity: str) -> sa.ColumnElement[bool]:
    return sa.or_(col(Image.objects_model).is_(None), col(Image.objects_model) != identity)


def detect(ctx: AppContext, owner_id: int, image_ids: Iterable[int]) -> int | None:
    """Run the detector on those of the owner's ``image_ids`` that the current detector has
    not looked at, and store what it finds. Returns how many images it looked at; None when
    the detector cannot run here (nothing is decoded for it then)."""
    detector = ctx.ml.detector
    ids = sorted(set(image_ids))
    if detector is None or not ids:
        return 0
    if not loads(detector):  # checked before any picture is decoded for it
        return None
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(Image.id, Image.storage_key, Image.content_sha256).where(
                col(Image.id).in_(ids),
                Image.owner_id == owner_id,
                _not_looked_at(detector.identity),
            )
        ).all()
        # Byte copies of pictures the detector has seen take what it found (twins.py).
        known = twin_detections(
            session, owner_id, (sha for _, _, sha in rows if sha), detector.identity
        )
    todo: list[tuple[int, str]] = []
    keys: dict[int, str] = {}
    copies: dict[int, str] = {}  # image id -> its content, looked at elsewhere
    first: dict[str, int] = {}  # content -> the image of this run the detector sees it in
    for image_id, key, sha in rows:
        assert image_id is not None
        keys[image_id] = key
        if sha is not None and (sha in known or first.setdefault(sha, image_id) != image_id):
            copies[image_id] = sha
        else:
            todo.append((image_id, key))
    looked = _detect(ctx, owner_id, todo)
    if looked is None:
        return None  # the detector cannot run: the backfill tries again after a restart
    for sha, image_id in first.items():
        if image_id in looked:
            known[sha] = looked[image_id]
    taken = {i: known[sha] for i, sha in copies.items() if sha in known}
    if taken:
        with ctx.session(write=True) as session:
            store_objects(session, owner_id, detector.identity, taken)
    # Copies whose content's first picture was unreadable (a file read in place): their own.
    left = [(i, keys[i]) for i in copies if i not in taken]
    again = _detect(ctx, owner_id, left) if left else {}
    return None if again is None else len(looked) + len(taken) + len(again)


def _detect(
    ctx: AppContext, owner_id: int, todo: list[tuple[int, str]]
) -> dict[int, list[Detection]] | None:
    """Decode and detect, a batch at a time, storing what is found; None when the detector
    cannot run."""
    detector = ctx.ml.detector
    assert detector is not None
    looked: dict[int, list[Detection]] = {}
    for start in range(0, len(todo), BATCH):
        pixels: dict[int, RGBImage] = {}
        for image_id, key in todo[start : start + BATCH]:
            try:
                _, picture = decode_reduced(
                    ctx.store.get(key), DECODE_SIDE, ctx.settings.decode_limits
                )
            except (BlobNotFound, OSError, ValueError) as exc:
                log.warning("image %s: no objects detected, undecodable (%r)", image_id, exc)
                continue
            pixels[image_id] = rgb_array(picture)
        found = run_model(detector, list(pixels.values()))
        if found is None:
            return None
        objects = {i: f for i, f in zip(pixels, found, strict=True) if f is not None}
        with ctx.session(write=True) as session:
            store_objects(session, owner_id, detector.identity, objects)
        looked.update(objects)
    return looked


def store_objects(
    session: Session, owner_id: int, detector: str, objects: dict[int, list[Detection]]
) -> None:
    """One detector's rows per image: a new detector's results replace the old ones. Images
    deleted meanwhile are left out, and so are images this detector's results were stored for
    meanwhile: the rows are locked first, so two runs on one image (the people check and the
    tags fill) never both insert (on PostgreSQL the second waits, then finds it done)."""
    present = set(
        session.exec(
            select(Image.id)
            .where(
                col(Image.id).in_(list(objects)),
                Image.owner_id == owner_id,
                _not_looked_at(detector),
            )
            .order_by(col(Image.id))  # one order for every run: two never deadlock
            .with_for_update()
        ).all()
    )
    detected = [i for i in objects if i in present]
    if not detected:
        return
    session.execute(sa.delete(ImageObject).where(col(ImageObject.image_id).in_(detected)))
    session.add_all(
        ImageObject(
            image_id=image_id,
            owner_id=owner_id,
            model_name=detector,
            label=d.label,
            confidence=round(d.confidence, 4),
            x0=d.box[0],
            y0=d.box[1],
            x1=d.box[2],
            y1=d.box[3],
        )
        for image_id in detected
        for d in objects[image_id]
    )
    session.execute(
        sa.update(Image).where(col(Image.id).in_(detected)).values(objects_model=detector)
    )


def fill_tags(ctx: AppContext, owner_id: int, after: int = 0) -> None:
    """Task: the tags of the owner's grouped images (ids past ``after``) that the current
    detector has not looked at, a batch per run; the next batch is sent once this one is
    stored (past it, so a picture the detector cannot read never holds the others back)."""
    detector = ctx.ml.detector
    if detector is None:
        return
    with Session(ctx.engine) as session:
        if _on_their_way(session, owner_id):
            # The detector would take the model queue and the cores from the person's photos
            # still being analysed, and their groups would wait for tags: look again later.
            sent: dict[str, int] = {"after": after} if after else {}  # grouping's request
            ctx.jobs.enqueue_later(TAGS_WAIT, DETECT, owner_id=owner_id, **sent)
            return
        ids = session.exec(
            select(Image.id)
            .where(
                Image.owner_id == owner_id,
                Image.state == ImageState.READY,
                col(Image.id) > after,
                _not_looked_at(detector.identity),
            )
            .order_by(col(Image.id))
            .limit(BATCH)
        ).all()
    wanted = [i for i in ids if i is not None]
    if detect(ctx, owner_id, wanted) is None:
        return  # the detector cannot run: the backfill sends this again after a restart
    if len(wanted) == BATCH:  # stored and committed: send the next batch now
        ctx.jobs.enqueue(DETECT, owner_id=owner_id, after=wanted[-1])


def _on_their_way(session: Session, owner_id: int) -> bool:
    """Whether some of the owner's photos are not yet analysed and grouped."""
    return (
        session.exec(
            select(Image.id)
            .where(Image.owner_id == owner_id, col(Image.state).in_(UNFINISHED))
            .limit(1)
        ).first()
        is not None
    )


def tags_wanted(ctx: AppContext) -> bool:
    """Whether every image gets its tags (not only the images the people check needs)."""
    return ctx.ml.detector is not None and ctx.settings.object_tags != "candidates"


def backfill_tags(ctx: AppContext) -> None:
    """The owners with grouped images the current detector has not tagged: their fill task.
    (The images stay where they are: tags never change a group.)"""
    detector = ctx.ml.detector
    if not tags_wanted(ctx) or not loads(detector):
        return
    assert detector is not None
    with Session(ctx.engine) as session:
        owners = session.exec(
            select(Image.owner_id)
            .where(Image.state == ImageState.READY, _not_looked_at(detector.identity))
            .distinct()
        ).all()
    for owner_id in sorted(owners):
        ctx.jobs.enqueue(DETECT, owner_id=owner_id)

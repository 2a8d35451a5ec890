"""Task: run the models on a person's hashed images, in batches (the "model" queue).

Copy-detection (SSCD) and CLIP embeddings are stored with the identity of the model that made
them; the images then move on to grouping. (Objects are detected where they are needed:
``detect_objects``.) A model that fails does
not hold the photos back: they are grouped on their hashes, and the embeddings missing for
the current models are made later (see ``backfill``), which is also how a model change
re-embeds instead of mixing vector spaces.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import batched

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlmodel import Session, col, select

from backend.core import verify as geometry
from backend.core.decode import decode_reduced
from backend.ml.base import RGBImage
from backend.ml.images import rgb_array
from backend.models import Image, ImageEmbedding, ImageState
from backend.services.context import AppContext
from backend.services.features.canvas_backfill import backfill_blank_share
from backend.services.features.detect_objects import backfill_tags
from backend.services.features.inference import BATCH, DECODE_SIDE, loads, run_model
from backend.services.features.twins import twin_vectors
from backend.services.grouping.picture_cache import REDUCED
from backend.services.job_queue import enqueue_job
from backend.services.pipeline import MODELS, NEXT_STEP
from backend.services.storage.blobstore import BlobNotFound

log = logging.getLogger(__name__)


@dataclass
class _Results:
    vectors: dict[str, dict[int, NDArray[np.float32]]] = field(default_factory=dict)


def analyse_with_models(ctx: AppContext, owner_id: int) -> None:
    """Idempotent: only images still waiting for the models are written."""
    models = ctx.ml
    running = [m for m in (models.copy, models.clip) if m is not None]
    with Session(ctx.engine) as session:
        todo = session.exec(
            select(Image.id, Image.storage_key, Image.content_sha256)
            .where(Image.owner_id == owner_id, Image.state == ImageState.HASHED)
            .order_by(col(Image.id))
            .limit(BATCH)
        ).all()
        if not todo:
            return
        # Byte copies of pictures the models have seen take those results (twins.py).
        known = twin_vectors(
            session, owner_id, (sha for _, _, sha in todo if sha), (m.identity for m in running)
        )
    limits = ctx.settings.decode_limits
    keep = _keep_for_verification(ctx)

    def decoded(row: tuple[int | None, str]) -> RGBImage | None:
        image_id, key = row
        try:
            picture = decode_reduced(ctx.store.get(key), DECODE_SIDE, limits)[1]
        except (BlobNotFound, OSError, ValueError) as exc:
            log.warning("image %s: no model analysis, it could not be decoded (%r)", image_id, exc)
            return None
        if keep:
            # The grouping verifies the new pictures' pairs next: it finds this decode kept.
            REDUCED.put(key, geometry.reduce(picture))
        return rgb_array(picture)

    to_run: list[tuple[int | None, str]] = []
    copies: dict[int, str] = {}  # image id -> its content, seen by the models elsewhere
    first: dict[str, int] = {}  # content -> the image of this batch the models see it in
    for image_id, key, sha in todo:
        if image_id is None:
            continue
        if sha is not None and (sha in first or len(known.get(sha, ())) == len(running)):
            copies[image_id] = sha
            continue
        if sha is not None:
            first[sha] = image_id
        to_run.append((image_id, key))

    results = _Results()

    def run(rows: list[tuple[int | None, str]]) -> None:
        with ThreadPoolExecutor(1, thread_name_prefix="model-decode") as pool:
            # Decoded in order on a helper thread while the models run on the pictures
            # before: decoding a whole batch first left a core idle for half a second.
            pictures = pool.map(decoded, rows)
            for chunk in batched(zip(rows, pictures, strict=True), ctx.settings.model_batch_size):
                ids = [i for (i, _), a in chunk if i is not None and a is not None]
                arrays = [a for _, a in chunk if a is not None]
                for model in list(running):
                    if not arrays:
                        break
                    vectors = run_model(model, arrays)
                    if vectors is None:  # not loadable: the backfill tries after a restart
                        running.remove(model)
                        continue
                    found = results.vectors.setdefault(model.identity, {})
                    found.update((i, v) for i, v in zip(ids, vectors, strict=True) if v is not None)

    run(to_run)
    keys = {image_id: key for image_id, key, _ in todo}
    left: list[tuple[int | None, str]] = []  # copies whose content gave the models nothing
    for image_id, sha in copies.items():
        for model in running:
            vector = known.get(sha, {}).get(model.identity)
            if vector is None and sha in first:
                vector = results.vectors.get(model.identity, {}).get(first[sha])
            if vector is None:
                left.append((image_id, keys[image_id]))
                break
            results.vectors.setdefault(model.identity, {})[image_id] = vector
    if left:  # that picture was unreadable (a file read in place): each copy is tried itself
        run(left)

    _store(ctx, owner_id, [i for i, _, _ in todo if i is not None], len(todo) == BATCH, results)


def _keep_for_verification(ctx: AppContext) -> bool:
    """Whether the grouping's verification will find a decode kept here: it runs in this
    process (threads) and compares at the size the models decode at."""
    settings = ctx.settings
    return (
        settings.verify_copies
        and settings.analysis_in_this_process
        and DECODE_SIDE == geometry.LONG_SIDE
    )


def _store(ctx: AppContext, owner_id: int, ids: list[int], more: bool, results: _Results) -> None:
    """Store the results; once committed, grouping takes the batch on (and with ``more``, the
    next batch of the person's images comes to the models)."""
    with ctx.session(write=True) as session:
        waiting = set(
            session.exec(
                select(Image.id)
                .where(col(Image.id).in_(ids), Image.state == ImageState.HASHED)
                .with_for_update()
            ).all()
        )
        added: list[ImageEmbedding] = []
        for model_name, vectors in results.vectors.items():
            have = set(
                session.exec(
                    select(ImageEmbedding.image_id).where(
                        col(ImageEmbedding.image_id).in_(waiting),
                        ImageEmbedding.model_name == model_name,
                    )
                ).all()
            )
            for image_id, vector in vectors.items():
                if image_id in waiting and image_id not in have:
                    added.append(
                        ImageEmbedding(
                            image_id=image_id,
                            owner_id=owner_id,
                            model_name=model_name,
                            dimension=int(vector.shape[0]),
                            vector=np.asarray(vector, dtype="<f4").tobytes(),
                        )
                    )
        session.add_all(added)
        session.flush()
        ctx.vectors.store(session, added)
        if waiting:
            session.execute(
                sa.update(Image)
                .where(col(Image.id).in_(waiting), col(Image.state) == ImageState.HASHED)
                .values(state=ImageState.ANALYSED)
            )
        _send_on(session, owner_id)
        if more:
            enqueue_job(session, MODELS, owner_id=owner_id)


def _send_on(session: Session, owner_id: int) -> None:
    """The person's images have left the models: queue grouping (the pipeline's next step)."""
    enqueue_job(session, NEXT_STEP[ImageState.ANALYSED].task, owner_id=owner_id)


def give_up_on_models(ctx: AppContext, error: BaseException, owner_id: int) -> None:
    """Retries are exhausted: the images go on to grouping on their hashes alone."""
    with ctx.session(write=True) as session:
        session.execute(
            sa.update(Image)
            .where(col(Image.owner_id) == owner_id, col(Image.state) == ImageState.HASHED)
            .values(state=ImageState.ANALYSED)
        )
        _send_on(session, owner_id)


def run_backfill(ctx: AppContext) -> None:
    """Task: the backfill, on the model queue (it loads the models), sent at start-up."""
    sent = backfill(ctx)
    if sent:
        log.info("sent %d image(s) back to the models (a model was added or changed)", sent)


def backfill(ctx: AppContext, limit: int = 10_000) -> int:
    """Send back to the models the grouped images that lack a result of a current model (a
    model was added or changed, or failed earlier), send the tags still missing to the
    detector, and measure the blank canvas of images analysed before it was. Returns how
    many images were sent back to the models."""
    backfill_blank_share(ctx)  # no model needed: thumbnails only
    # Only models that load: a broken one would send every photo round again at each start.
    vector_models = [m.identity for m in (ctx.ml.copy, ctx.ml.clip) if m is not None and loads(m)]
    backfill_tags(ctx)
    if not vector_models:
        return 0
    missing: sa.ColumnElement[bool] = sa.false()
    for name in vector_models:
        have = sa.select(col(ImageEmbedding.image_id)).where(col(ImageEmbedding.model_name) == name)
        missing = sa.or_(missing, col(Image.id).not_in(have))
    with ctx.session(write=True) as session:
        rows = session.execute(
            sa.select(col(Image.id), col(Image.owner_id))
            .where(col(Image.state) == ImageState.READY, missing)
            .order_by(col(Image.id))
            .limit(limit)
        ).all()
        if not rows:
            return 0
        # Out of their finished job (job_id cleared) so the progress of that job is untouched.
        session.execute(
            sa.update(Image)
            .where(col(Image.id).in_([r[0] for r in rows]))
            .values(state=ImageState.HASHED, job_id=None)
        )
        for owner_id in sorted({r[1] for r in rows}):
            enqueue_job(session, MODELS, owner_id=owner_id)
    return len(rows)

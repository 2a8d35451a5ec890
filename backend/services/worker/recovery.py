"""What still needs doing is a query: re-send it after a crash, a restart or a lost message.

The embedded worker re-sends everything at start-up. Celery workers sweep now and then for
work that stopped moving (its job has not progressed for a while): messages are lost when
Redis restarts without persistence, or a worker is killed before it acknowledged. Every task
is idempotent, so sending one twice costs time, never correctness.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, or_, select

from backend.models import Image, ImageState, Job, utcnow
from backend.services.context import AppContext
from backend.services.features.analyse_models import BACKFILL_TASK as BACKFILL
from backend.services.features.analyse_models import TASK_NAME as MODELS
from backend.services.features.extract import TASK_NAME as EXTRACT
from backend.services.grouping.update import TASK_NAME as GROUP

SWEEP_LIMIT = 10_000  # per sweep; the next sweep sends the rest


def resume_unfinished(ctx: AppContext, stale_after: float | None = None) -> int:
    """Re-send analysis and grouping for unfinished images; with ``stale_after`` (seconds),
    only those whose job has not moved for that long. Returns how many images were re-sent."""
    pending = select(Image.id).where(Image.state == ImageState.PENDING)
    hashed = select(Image.owner_id).where(Image.state == ImageState.HASHED)
    analysed = select(Image.owner_id).where(Image.state == ImageState.ANALYSED)
    if stale_after is not None:
        cutoff = utcnow() - timedelta(seconds=stale_after)
        quiet = select(Job.id).where(col(Job.updated_at) < cutoff)
        pending = pending.where(or_(col(Image.job_id).is_(None), col(Image.job_id).in_(quiet)))
        hashed = hashed.where(or_(col(Image.job_id).is_(None), col(Image.job_id).in_(quiet)))
        analysed = analysed.where(or_(col(Image.job_id).is_(None), col(Image.job_id).in_(quiet)))
    with Session(ctx.engine) as session:
        image_ids = session.exec(pending.order_by(col(Image.id)).limit(SWEEP_LIMIT)).all()
        owners = session.exec(analysed.distinct()).all()
        waiting_for_models = session.exec(hashed.distinct()).all()
    for image_id in image_ids:
        ctx.jobs.enqueue(EXTRACT, image_id=image_id)
    for owner_id in waiting_for_models:
        ctx.jobs.enqueue(MODELS, owner_id=owner_id)
    for owner_id in owners:
        ctx.jobs.enqueue(GROUP, owner_id=owner_id)
    if stale_after is None:
        # At start-up: images grouped before a model was added or changed get its results
        # (on the model queue: it loads the models, which must not delay the start).
        ctx.jobs.enqueue(BACKFILL)
    return len(image_ids)

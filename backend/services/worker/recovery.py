"""What still needs doing is a query: re-send it after a crash, a restart or a lost message.

The embedded worker re-sends everything at start-up. Celery workers sweep now and then for
work that stopped moving (its job has not progressed for a while): messages are lost when
Redis restarts without persistence, or a worker is killed before it acknowledged. Every task
is idempotent, so sending one twice costs time, never correctness.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, or_, select

from backend.models import Image, Job, RegroupMark, utcnow
from backend.services.context import AppContext
from backend.services.ingestion.google_picks import resume_picks
from backend.services.ingestion.takeout import resume_takeout_imports
from backend.services.pipeline import BACKFILL, GROUP, NEXT_STEP

SWEEP_LIMIT = 10_000  # per sweep; the next sweep sends the rest


def resume_unfinished(ctx: AppContext, stale_after: float | None = None) -> int:
    """Re-send the next step of every unfinished image (the pipeline's table says which); with
    ``stale_after`` (seconds), only for images whose job has not moved for that long. Returns
    how many images were re-sent one by one (the per-owner steps take the rest in batches)."""
    cutoff = utcnow() - timedelta(seconds=stale_after) if stale_after is not None else None
    per_image = 0
    with Session(ctx.engine) as session:
        for state, step in NEXT_STEP.items():
            stmt = select(Image.owner_id if step.per_owner else Image.id).where(
                Image.state == state
            )
            if cutoff is not None:
                quiet = select(Job.id).where(col(Job.updated_at) < cutoff)
                stmt = stmt.where(or_(col(Image.job_id).is_(None), col(Image.job_id).in_(quiet)))
            if step.per_owner:
                for owner_id in session.exec(stmt.distinct()).all():
                    ctx.jobs.enqueue(step.task, owner_id=owner_id)
            else:
                ids = session.exec(stmt.order_by(col(Image.id)).limit(SWEEP_LIMIT)).all()
                for image_id in ids:
                    ctx.jobs.enqueue(step.task, image_id=image_id)
                per_image += len(ids)
        # Groups to rebuild after a deletion or decision whose grouping message was lost.
        for owner_id in session.exec(select(RegroupMark.owner_id).distinct()).all():
            ctx.jobs.enqueue(GROUP, owner_id=owner_id)
    resume_picks(ctx, stale_after)  # Google Photos picks still waiting or importing
    resume_takeout_imports(ctx, stale_after)  # uploaded Takeout archives not read yet
    if stale_after is None:
        # At start-up: images grouped before a model was added or changed get its results
        # (on the model queue: it loads the models, which must not delay the start).
        ctx.jobs.enqueue(BACKFILL)
    return per_image

"""Job progress kept in the database, so any worker in any process can report it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.models import Image, Job, JobState, utcnow
from backend.models.image import UNFINISHED
from backend.services.pagination import paginate


def count_progress(
    session: Session, done: Iterable[int | None], failed: Iterable[int | None]
) -> None:
    """Add finished images to their jobs atomically (UPDATE … SET done = done + n)."""
    for field, ids in (("done", done), ("failed", failed)):
        for job_id, n in Counter(i for i in ids if i is not None).items():
            column = getattr(Job, field)
            session.execute(
                sa.update(Job)
                .where(col(Job.id) == job_id)
                .values({field: column + n, "state": JobState.RUNNING, "updated_at": utcnow()})
            )
    session.flush()
    finish_complete_jobs(session)


def finish_complete_jobs(session: Session) -> None:
    stmt = select(Job).where(
        col(Job.state).in_([JobState.QUEUED, JobState.RUNNING]),
        col(Job.done) + col(Job.failed) >= col(Job.total),
    )
    for job in session.exec(stmt):
        job.state = JobState.DONE
        job.finished_at = job.updated_at = utcnow()
        session.add(job)
    session.flush()


def release_from_job(session: Session, image: Image) -> None:
    """The image leaves its job unfinished (deleted, or moved to a newer job): the job waits
    for one image less, and may be complete now."""
    if image.job_id is not None and image.state in UNFINISHED:
        session.execute(
            sa.update(Job).where(col(Job.id) == image.job_id).values(total=col(Job.total) - 1)
        )
        session.flush()
        finish_complete_jobs(session)


def list_jobs(session: Session, owner_id: int, page: int, size: int) -> tuple[list[Job], int]:
    """The person's jobs, newest first (the id breaks ties between jobs of the same instant)."""
    stmt = (
        select(Job)
        .where(Job.owner_id == owner_id)
        .order_by(col(Job.created_at).desc(), col(Job.id).desc())
    )
    return paginate(session, stmt, page, size)

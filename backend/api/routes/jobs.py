from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from backend.api.deps import CurrentUser, SessionDep, owner_id
from backend.api.params import JobId
from backend.api.schemas import ErrorOut, FailedImage, JobOut, SkippedFile
from backend.models import Image, ImageState, Job
from backend.services.scoping import get_owned

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut, responses={404: {"model": ErrorOut}})
def get_job(job_id: JobId, user: CurrentUser, session: SessionDep) -> JobOut:
    job = get_owned(session, Job, owner_id(user), job_id, "job")
    failed = session.exec(
        select(Image)
        .where(Image.job_id == job.id, Image.state == ImageState.FAILED)
        .order_by(col(Image.id))
        .limit(1000)
    ).all()
    assert job.id is not None
    return JobOut(
        id=job.id,
        kind=job.kind,
        state=job.state,
        total=job.total,
        done=job.done,
        failed=job.failed,
        created_at=job.created_at,
        finished_at=job.finished_at,
        message=job.message,
        skipped=[
            SkippedFile(name=str(s.get("name", "")), reason=str(s.get("reason", "")))
            for s in job.skipped or []
        ],
        failures=[
            FailedImage(image_id=i.id, filename=i.filename, reason=i.error or "")
            for i in failed
            if i.id is not None
        ],
    )

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from backend.api.deps import CurrentUser, SessionDep, owner_id
from backend.api.params import JobId, PageNo
from backend.api.schemas import ErrorOut, FailedImage, JobOut, JobSummaryOut, Page, SkippedFile
from backend.models import Image, ImageState, Job
from backend.services import jobs
from backend.services.scoping import get_owned

router = APIRouter(prefix="/jobs", tags=["jobs"])


def summary(job: Job) -> JobSummaryOut:
    return JobSummaryOut.model_validate(job, from_attributes=True)


@router.get("", response_model=Page[JobSummaryOut])
def list_jobs(
    user: CurrentUser,
    session: SessionDep,
    page: PageNo = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[JobSummaryOut]:
    """Your jobs (uploads, Google Photos picks, Takeout imports, scraper batches, folder
    scans), newest first, with their progress."""
    rows, total = jobs.list_jobs(session, owner_id(user), page, size)
    return Page(items=[summary(j) for j in rows], total=total, page=page, size=size)


@router.get("/{job_id}", response_model=JobOut, responses={404: {"model": ErrorOut}})
def get_job(job_id: JobId, user: CurrentUser, session: SessionDep) -> JobOut:
    job = get_owned(session, Job, owner_id(user), job_id, "job")
    failed = session.exec(
        select(Image)
        .where(Image.job_id == job.id, Image.state == ImageState.FAILED)
        .order_by(col(Image.id))
        .limit(1000)
    ).all()
    return JobOut(
        **summary(job).model_dump(),
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

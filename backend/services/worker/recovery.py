"""What still needs doing is a query: re-send it after a crash or restart."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.models import Image, ImageState
from backend.services.context import AppContext
from backend.services.features.extract import TASK_NAME as EXTRACT
from backend.services.grouping.update import TASK_NAME as GROUP


def resume_unfinished(ctx: AppContext) -> int:
    with Session(ctx.engine) as session:
        pending = session.exec(
            select(Image.id).where(Image.state == ImageState.PENDING).order_by(col(Image.id))
        ).all()
        owners = session.exec(
            select(Image.owner_id).where(Image.state == ImageState.ANALYSED).distinct()
        ).all()
    for image_id in pending:
        ctx.jobs.enqueue(EXTRACT, image_id=image_id)
    for owner_id in owners:
        ctx.jobs.enqueue(GROUP, owner_id=owner_id)
    return len(pending)

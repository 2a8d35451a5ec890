"""The pipeline as data: which task takes an image on from each state.

An image moves PENDING → (features.extract) → HASHED → (models.analyse) → ANALYSED →
(grouping.update) → READY (one sent as a URL starts FETCHING → (ingest.fetch) → PENDING);
without models, extraction leads straight to ANALYSED. Every place
that sends an image on (the tasks themselves, recovery after a crash, the sweep) reads this
table, so a new stage is one line here plus its task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.models import ImageState
from backend.services.job_queue import JobQueue, enqueue_job

# Task names: messages carry these and ids only (see services/worker/tasks.py for the handlers).
FETCH = "ingest.fetch"  # download a sent URL (SCRAPE mode), on the network-bound queue
EXTRACT = "features.extract"
MODELS = "models.analyse"
BACKFILL = "models.backfill"
GROUP = "grouping.update"
DETECT = "objects.detect"  # tags of grouped images (the people check detects its own earlier)
DELETE_BLOBS = "storage.delete"


@dataclass(frozen=True)
class Step:
    task: str
    # Per owner: one run takes all of the person's images in the state, in batches (models and
    # grouping are cheaper together); otherwise one run per image.
    per_owner: bool

    def kwargs(self, image_id: int, owner_id: int) -> dict[str, Any]:
        return {"owner_id": owner_id} if self.per_owner else {"image_id": image_id}


NEXT_STEP: dict[ImageState, Step] = {
    ImageState.FETCHING: Step(FETCH, per_owner=False),
    ImageState.PENDING: Step(EXTRACT, per_owner=False),
    ImageState.HASHED: Step(MODELS, per_owner=True),
    ImageState.ANALYSED: Step(GROUP, per_owner=True),
}


def after_extraction(models_enabled: bool) -> ImageState:
    """Where an analysed image goes: to the models when there are any, else to grouping."""
    return ImageState.HASHED if models_enabled else ImageState.ANALYSED


def send_next(session: Session, state: ImageState, image_id: int, owner_id: int) -> None:
    """Queue the step that takes an image on from ``state`` (sent when ``session`` commits)."""
    step = NEXT_STEP.get(state)
    if step is not None:
        enqueue_job(session, step.task, **step.kwargs(image_id, owner_id))


def resend(queue: JobQueue, state: ImageState, image_id: int, owner_id: int) -> None:
    """Send the step for ``state`` now: for work whose state is already committed (a redelivered
    task, recovery after a crash), so there is no transaction to wait for."""
    step = NEXT_STEP.get(state)
    if step is not None:
        queue.enqueue(step.task, **step.kwargs(image_id, owner_id))

"""A scan's progress by phase (hashing, models, grouping), counted as the work happens.

Hashing counts image by image from the worker's reports (one task per image); the models
count the images each model batch took (per batch of ``DUPFINDER_MODEL_BATCH_SIZE``) across
the models in use; grouping counts the images the database says are grouped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.ml.registry import ModelSet
from backend.models import Image, ImageState
from backend.services.pipeline import EXTRACT
from backend.services.worker.embedded import EmbeddedWorker

PhaseProgress = Callable[[str, int, int], None]  # (phase, finished, total)
HASHING, MODELS, GROUPING = "hashing", "models", "grouping"
ORDER = (HASHING, MODELS, GROUPING)


class ScanMeter:
    """Counts one scan's images; ``report`` (on the caller's thread) says where they are."""

    def __init__(self, models: ModelSet, progress: PhaseProgress | None) -> None:
        # The models step's models (the detector runs later, and only where it is needed).
        self._models = [m for m in (models.copy, models.clip) if m is not None]
        self._progress = progress
        self._changed = threading.Condition()
        self._pending: frozenset[int] = frozenset()
        self._job_id: int | None = None
        self._hashed: set[int] = set()
        self._predicted = 0  # images × models
        self._shown: dict[str, int] = {}  # the count last shown of each phase
        self._phase = 0  # index in ORDER of the phase shown

    def expect(self, job_id: int | None, pending: list[int]) -> None:
        """The scan's job and the images it analyses (before their tasks are sent)."""
        self._job_id, self._pending = job_id, frozenset(pending)

    @contextmanager
    def attached(self, worker: EmbeddedWorker) -> Iterator[None]:
        with ExitStack() as stack:
            stack.enter_context(worker.watch(self._task_ran))
            for model in self._models:
                stack.enter_context(model.watch(self._batch_predicted))
            yield

    def _task_ran(self, name: str, kwargs: dict[str, Any]) -> None:
        image_id = kwargs.get("image_id")
        if name == EXTRACT and image_id in self._pending:
            with self._changed:
                self._hashed.add(image_id)
                self._changed.notify_all()

    def _batch_predicted(self, images: int) -> None:
        with self._changed:
            self._predicted += images
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        """Until something was counted, or ``timeout`` seconds."""
        with self._changed:
            self._changed.wait(timeout)

    def report(self, session: Session, final: bool = False) -> None:
        """Show the earliest phase that is not finished (all of them once ``final``)."""
        if self._progress is None:
            return
        total = len(self._pending)
        with self._changed:
            hashed, predicted = len(self._hashed), self._predicted
        if hashed < total and not final:  # counted as the tasks end: no query needed
            self._show_each(HASHING, hashed, total)
            return
        self._show_each(HASHING, total, total)
        states = _states(session, self._job_id) if self._pending else {}
        failed = states.get(ImageState.FAILED, 0)  # at hashing: unreadable, not a picture
        # Later phases count the files that failed at hashing as finished: each phase's bar
        # runs over the same files.
        if self._models:
            waiting = states.get(ImageState.HASHED, 0) + states.get(ImageState.PENDING, 0)
            if waiting and not final:
                through = min(total - failed, predicted // len(self._models))
                self._show(MODELS, failed + through, total)
                return
            self._show(MODELS, total, total)
        self._show(GROUPING, states.get(ImageState.READY, 0) + failed, total)

    def _show_each(self, phase: str, done: int, total: int) -> None:
        """Hashing: every image finished is a step of its own (two can end between looks)."""
        for n in range(self._shown.get(phase, -1) + 1, done + 1):
            self._show(phase, n, total)

    def _show(self, phase: str, done: int, total: int) -> None:
        if ORDER.index(phase) < self._phase or done <= self._shown.get(phase, -1):
            return  # never back to an earlier phase, nor back or still in one
        self._phase = ORDER.index(phase)
        self._shown[phase] = done
        assert self._progress is not None
        self._progress(phase, done, total)


def _states(session: Session, job_id: int | None) -> dict[ImageState, int]:
    """How many of the job's images are in each state (the scan's images are its job's)."""
    rows = session.execute(
        sa.select(col(Image.state), sa.func.count())
        .where(col(Image.job_id) == job_id)
        .group_by(col(Image.state))
    )
    return {ImageState(state): n for state, n in rows}

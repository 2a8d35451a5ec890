"""Tasks by name: the handlers that both the embedded worker and Celery workers run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.services.context import AppContext
from backend.services.features.analyse_models import (
    analyse_with_models,
    give_up_on_models,
    run_backfill,
)
from backend.services.features.extract import extract_image_features, give_up_on_image
from backend.services.grouping.task import update_owner_groups
from backend.services.ingestion.google_picks import IMPORT_PICK, give_up_on_pick, import_pick
from backend.services.ingestion.scraped import fetch_scraped_image, give_up_on_fetch
from backend.services.ingestion.takeout import (
    TAKEOUT_IMPORT,
    give_up_on_takeout,
    run_takeout_import,
)
from backend.services.pipeline import (
    BACKFILL,
    DELETE_BLOBS,
    EXTRACT,
    FETCH,
    GROUP,
    MODELS,
    NEXT_STEP,
)
from backend.services.storage.cleanup import delete_unreferenced

log = logging.getLogger(__name__)
TaskFn = Callable[..., None]
# "ingest" for fetching photos from elsewhere (network-bound: Google Photos, Takeout archives,
# scraped URLs), "cpu" for image work, "model" for inference (one task at a time per process:
# ONNX Runtime uses every core itself), "grouping" runs one task at a time per owner.
QUEUES = ("ingest", "cpu", "model", "grouping")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    fn: TaskFn
    queue: str
    dedupe: bool = False  # a waiting copy with the same arguments makes a new one redundant
    # Called once retries are exhausted, to record the failure where a person sees it.
    on_give_up: Callable[..., None] | None = None

    def run(self, ctx: AppContext, **kwargs: Any) -> None:
        self.fn(ctx, **kwargs)

    def give_up(self, ctx: AppContext, error: BaseException, **kwargs: Any) -> None:
        log.error("task %s%s gave up after retries: %r", self.name, kwargs, error)
        if self.on_give_up is not None:
            self.on_give_up(ctx, error, **kwargs)


def build_registry(specs: list[TaskSpec]) -> dict[str, TaskSpec]:
    """Fail fast on a name registered twice, as a queue would otherwise pick one at random."""
    registry: dict[str, TaskSpec] = {}
    for spec in specs:
        if spec.name in registry:
            raise RuntimeError(f"task {spec.name!r} is registered twice")
        registry[spec.name] = spec
    return registry


TASKS = build_registry(
    [
        TaskSpec(FETCH, fetch_scraped_image, queue="ingest", on_give_up=give_up_on_fetch),
        TaskSpec(TAKEOUT_IMPORT, run_takeout_import, queue="ingest", on_give_up=give_up_on_takeout),
        TaskSpec(IMPORT_PICK, import_pick, queue="ingest", on_give_up=give_up_on_pick),
        TaskSpec(EXTRACT, extract_image_features, queue="cpu", on_give_up=give_up_on_image),
        TaskSpec(
            MODELS, analyse_with_models, queue="model", dedupe=True, on_give_up=give_up_on_models
        ),
        TaskSpec(BACKFILL, run_backfill, queue="model", dedupe=True),
        TaskSpec(GROUP, update_owner_groups, queue="grouping", dedupe=True),
        TaskSpec(DELETE_BLOBS, delete_unreferenced, queue="cpu"),
    ]
)
# Every step of the pipeline needs its handler, or images would wait in that state forever.
REQUIRED = tuple(step.task for step in NEXT_STEP.values()) + (DELETE_BLOBS,)


def check_registry(registry: dict[str, TaskSpec]) -> None:
    missing = [name for name in REQUIRED if name not in registry]
    if missing:
        raise RuntimeError(f"no handler registered for task(s): {', '.join(missing)}")
    unknown = sorted({s.queue for s in registry.values()} - set(QUEUES))
    if unknown:
        raise RuntimeError(f"tasks name unknown queues: {', '.join(unknown)}")

"""Tasks by name: the handlers that both the embedded worker and Celery workers run.

Handlers are named as ``module:function`` and imported when first run: a process pays only for
the tasks it runs (``dupfinder scan`` never loads the Google, Takeout or scraping code).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.services.context import AppContext
from backend.services.pipeline import (
    BACKFILL,
    DELETE_BLOBS,
    DETECT,
    EXTRACT,
    FETCH,
    GROUP,
    MODELS,
    NEXT_STEP,
)

log = logging.getLogger(__name__)
TaskFn = Callable[..., None]
# The ingestion modules define these names too; the registry test checks that they agree.
TAKEOUT_IMPORT = "takeout.import"
IMPORT_PICK = "google.import_pick"
# "ingest" for fetching photos from elsewhere (network-bound: Google Photos, Takeout archives,
# scraped URLs), "cpu" for image work, "model" for inference (one task at a time per process:
# ONNX Runtime uses every core itself), "grouping" runs one task at a time per owner.
QUEUES = ("ingest", "cpu", "model", "grouping")


def resolve(handler: TaskFn | str) -> TaskFn:
    """The function a ``module:function`` reference names (a callable is its own handler)."""
    if not isinstance(handler, str):
        return handler
    module, _, name = handler.partition(":")
    fn: TaskFn = getattr(importlib.import_module(module), name)
    return fn


@dataclass(frozen=True)
class TaskSpec:
    name: str
    fn: TaskFn | str  # the handler, or its ``module:function`` (imported on first use)
    queue: str
    dedupe: bool = False  # a waiting copy with the same arguments makes a new one redundant
    # Called once retries are exhausted, to record the failure where a person sees it.
    on_give_up: TaskFn | str | None = None

    def run(self, ctx: AppContext, **kwargs: Any) -> None:
        resolve(self.fn)(ctx, **kwargs)

    def give_up(self, ctx: AppContext, error: BaseException, **kwargs: Any) -> None:
        log.error("task %s%s gave up after retries: %r", self.name, kwargs, error)
        if self.on_give_up is not None:
            resolve(self.on_give_up)(ctx, error, **kwargs)


def build_registry(specs: list[TaskSpec]) -> dict[str, TaskSpec]:
    """Fail fast on a name registered twice, as a queue would otherwise pick one at random."""
    registry: dict[str, TaskSpec] = {}
    for spec in specs:
        if spec.name in registry:
            raise RuntimeError(f"task {spec.name!r} is registered twice")
        registry[spec.name] = spec
    return registry


_INGEST = "backend.services.ingestion"
_FEATURES = "backend.services.features"
TASKS = build_registry(
    [
        TaskSpec(
            FETCH,
            f"{_INGEST}.scraped:fetch_scraped_image",
            queue="ingest",
            on_give_up=f"{_INGEST}.scraped:give_up_on_fetch",
        ),
        TaskSpec(
            TAKEOUT_IMPORT,
            f"{_INGEST}.takeout:run_takeout_import",
            queue="ingest",
            on_give_up=f"{_INGEST}.takeout:give_up_on_takeout",
        ),
        TaskSpec(
            IMPORT_PICK,
            f"{_INGEST}.google_picks:import_pick",
            queue="ingest",
            on_give_up=f"{_INGEST}.google_picks:give_up_on_pick",
        ),
        TaskSpec(
            EXTRACT,
            f"{_FEATURES}.extract:extract_image_features",
            queue="cpu",
            on_give_up=f"{_FEATURES}.extract:give_up_on_image",
        ),
        TaskSpec(
            MODELS,
            f"{_FEATURES}.analyse_models:analyse_with_models",
            queue="model",
            dedupe=True,
            on_give_up=f"{_FEATURES}.analyse_models:give_up_on_models",
        ),
        TaskSpec(BACKFILL, f"{_FEATURES}.analyse_models:run_backfill", queue="model", dedupe=True),
        TaskSpec(DETECT, f"{_FEATURES}.detect_objects:fill_tags", queue="model", dedupe=True),
        TaskSpec(
            GROUP,
            "backend.services.grouping.task:update_owner_groups",
            queue="grouping",
            dedupe=True,
        ),
        TaskSpec(DELETE_BLOBS, "backend.services.storage.cleanup:delete_unreferenced", queue="cpu"),
    ]
)
# Every step of the pipeline needs its handler, or images would wait in that state forever.
REQUIRED = tuple(step.task for step in NEXT_STEP.values()) + (DELETE_BLOBS,)


def check_registry(registry: dict[str, TaskSpec]) -> None:
    missing = [name for name in REQUIRED if name not in registry]
    if missing:
        raise RuntimeError(f"no handler registered for task(s): {', '.join(missing)}")
    # A misspelt handler module fails here, not at its first job (found, not imported).
    lost = sorted(
        ref.partition(":")[0]
        for spec in registry.values()
        for ref in (spec.fn, spec.on_give_up)
        if isinstance(ref, str) and importlib.util.find_spec(ref.partition(":")[0]) is None
    )
    if lost:
        raise RuntimeError(f"task handler module(s) not found: {', '.join(lost)}")
    unknown = sorted({s.queue for s in registry.values()} - set(QUEUES))
    if unknown:
        raise RuntimeError(f"tasks name unknown queues: {', '.join(unknown)}")

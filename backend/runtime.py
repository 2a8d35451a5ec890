"""The runtime: the one place that turns settings into an engine, a store and a job backend.

Embedded mode is the default (SQLite file, local disk, in-process worker). With a Celery
broker configured, jobs go to Celery workers instead (distributed mode). Nothing else in the
code branches on the mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from backend.config import Settings
from backend.db.engine import make_engine
from backend.db.migrate import upgrade
from backend.ml.registry import models_from_settings
from backend.services.context import AppContext
from backend.services.similarity.deferred import DeferredVectorIndex
from backend.services.similarity.factory import make_vector_index
from backend.services.storage.factory import make_blob_store
from backend.services.worker.embedded import EmbeddedWorker
from backend.services.worker.recovery import resume_unfinished
from backend.services.worker.registry import TASKS
from backend.services.worker.sweeper import Sweeper

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    ctx: AppContext
    worker: EmbeddedWorker | None  # None in distributed mode: Celery workers do the work
    sweeper: Sweeper | None = None

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def mode(self) -> str:
        return "embedded" if self.worker is not None else "celery"

    def start(self) -> None:
        """Embedded mode: re-send what a previous run left unfinished, then keep sweeping for
        work that stopped moving (Celery workers run their own sweep)."""
        if self.worker is None:
            return
        resumed = resume_unfinished(self.ctx)
        if resumed:
            log.info("resuming analysis of %d image(s) left unfinished", resumed)
        ctx = self.ctx
        self.sweeper = Sweeper(lambda: ctx, ctx.settings.sweep_seconds, broker_url="")
        self.sweeper.start()

    def embedded_worker(self) -> EmbeddedWorker:
        if self.worker is None:
            raise RuntimeError("this runtime sends its jobs to Celery workers")
        return self.worker

    def close(self) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.worker is not None:
            self.worker.shutdown(wait=True)
        self.ctx.engine.dispose()


def build_runtime(
    settings: Settings, embedded: bool | None = None, migrate: bool | None = None
) -> Runtime:
    """``embedded`` forces the in-process worker (``dupfinder scan`` reads local files that
    remote workers could not); by default a configured Celery broker means distributed.
    ``migrate`` defaults to the ``DUPFINDER_AUTO_MIGRATE`` setting."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.ensure_secret_key()
    if settings.auto_migrate if migrate is None else migrate:
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    store = make_blob_store(settings.storage_location)
    models = models_from_settings(settings)
    vectors = DeferredVectorIndex(
        lambda: make_vector_index(engine, settings.vector_exact_limit, settings.pgvector_ef_search)
    )
    if embedded is False or (embedded is None and settings.distributed):
        from backend.services.worker.celery_app import CeleryJobQueue, make_celery

        jobs = CeleryJobQueue(make_celery(settings), settings.grouping_gather_seconds)
        ctx = AppContext(settings, engine, store, jobs, models, vectors)
        return Runtime(ctx, None)
    worker = EmbeddedWorker(
        TASKS, settings.threads, settings.retry_base_seconds, settings.grouping_gather_seconds
    )
    ctx = AppContext(settings, engine, store, worker, models, vectors)
    worker.bind(ctx)
    return Runtime(ctx, worker)

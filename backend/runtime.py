"""The runtime: the one place that turns settings into the application's context.

``build_context`` makes the engine, the blob store, the ML models, the vector index and the
job queue for every process: ``serve``, ``scan`` and Celery workers alike. Embedded mode is the
default (SQLite file, local disk, in-process worker); with a Celery broker configured, jobs go
to Celery workers instead (distributed mode). Nothing else in the code branches on the mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from backend.config import Settings
from backend.db.engine import make_engine
from backend.db.migrate import prepare_database
from backend.ml.registry import models_from_settings
from backend.services.context import AppContext
from backend.services.grouping.library import HashLibraries
from backend.services.job_queue import JobQueue
from backend.services.similarity.deferred import DeferredVectorIndex
from backend.services.similarity.factory import make_vector_index
from backend.services.storage.factory import make_blob_store
from backend.services.worker.embedded import EmbeddedWorker
from backend.services.worker.processes import AnalysisProcesses
from backend.services.worker.relay import RelayedJobQueue
from backend.services.worker.tasks import TASKS

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from celery import Celery

    from backend.services.worker.sweeper import Sweeper

log = logging.getLogger(__name__)


def make_context(settings: Settings, jobs: JobQueue, engine: Engine | None = None) -> AppContext:
    """The context tasks and requests run with, sending their jobs to ``jobs``: the same for
    ``serve``, ``scan``, Celery workers and the embedded mode's analysis processes."""
    engine = engine or make_engine(settings.database_url)
    return AppContext(
        settings=settings,
        engine=engine,
        store=make_blob_store(settings.storage_location),
        jobs=jobs,
        ml=models_from_settings(settings),
        vectors=DeferredVectorIndex(
            lambda: make_vector_index(
                engine, settings.vector_exact_limit, settings.pgvector_ef_search
            )
        ),
        hash_libraries=HashLibraries(settings.near_distance),
    )


def build_context(
    settings: Settings, *, embedded: bool, celery: Celery | None = None
) -> AppContext:
    """The context for this process. ``embedded``: jobs run on this process's own worker
    (threads, or child processes with ``DUPFINDER_EMBEDDED_ANALYSIS=processes``); otherwise
    they are sent to Celery (``celery``: the worker's own app, else one that only sends)."""
    engine = make_engine(settings.database_url)
    if embedded:
        processes = None
        if settings.embedded_analysis == "processes":
            # Image work, models and grouping leave this process; fetching (network-bound)
            # stays on its threads.
            sizes = {"cpu": settings.threads, "model": 1, "grouping": 1}
            processes = AnalysisProcesses(
                settings, TASKS, make_context, sizes, settings.analysis_nice
            )
        worker = EmbeddedWorker(
            TASKS,
            lambda jobs: make_context(settings, jobs, engine),
            settings.threads,
            settings.retry_base_seconds,
            settings.grouping_gather_seconds,
            processes,
        )
        return worker.ctx
    from backend.services.worker.celery_app import CeleryJobQueue, make_celery

    queue = CeleryJobQueue(celery or make_celery(settings), settings.grouping_gather_seconds)
    return make_context(settings, queue, engine)


def celery_worker_app(settings: Settings) -> Celery:
    """The Celery app a worker process runs: its tasks get their context from
    ``build_context``, made once per worker process after the fork."""
    from backend.services.worker.celery_app import make_celery

    return make_celery(
        settings, context=lambda app: build_context(settings, embedded=False, celery=app)
    )


@dataclass
class Runtime:
    ctx: AppContext
    sweeper: Sweeper | None = field(default=None)
    # An API process of `dupfinder serve` whose jobs go to the supervisor's embedded worker.
    relayed: bool = False

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def worker(self) -> EmbeddedWorker | None:
        """The in-process worker; None in distributed mode (Celery workers do the work)."""
        return self.ctx.jobs if isinstance(self.ctx.jobs, EmbeddedWorker) else None

    @property
    def mode(self) -> str:
        return "embedded" if self.worker is not None or self.relayed else "celery"

    def start(self) -> None:
        """Embedded mode: re-send what a previous run left unfinished, then keep sweeping for
        work that stopped moving (Celery workers run their own sweep)."""
        if self.worker is None:
            return
        # Here, not at the top: a scan never starts the sweep, and need not import it.
        from backend.services.worker.recovery import resume_unfinished
        from backend.services.worker.sweeper import Sweeper

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
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: 0700
    settings.ensure_secret_key()
    if settings.auto_migrate if migrate is None else migrate:
        prepare_database(settings.database_url)
    in_process = not settings.distributed if embedded is None else embedded
    return Runtime(build_context(settings, embedded=in_process))


def build_api_runtime(settings: Settings, relay: Connection | None, supervisor: int) -> Runtime:
    """The runtime of one of `dupfinder serve`'s API processes. Embedded mode: its jobs are
    relayed to the supervisor's worker (``relay``); distributed: sent to Celery as usual. The
    supervisor has migrated the database already. ``relay``: this process's pipe to it."""
    if relay is None:
        return Runtime(build_context(settings, embedded=False))
    return Runtime(make_context(settings, RelayedJobQueue(relay, supervisor)), relayed=True)

"""The runtime: the one place that turns settings into an engine, a store and a job backend.

Embedded mode is the default (SQLite file, local disk, in-process worker). Nothing else in the
code branches on the mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from backend.config import Settings
from backend.db.engine import make_engine
from backend.db.migrate import upgrade
from backend.services.context import AppContext
from backend.services.storage.blobstore import LocalBlobStore
from backend.services.worker.embedded import EmbeddedWorker
from backend.services.worker.recovery import resume_unfinished
from backend.services.worker.registry import TASKS

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    ctx: AppContext
    worker: EmbeddedWorker

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    def start(self) -> None:
        resumed = resume_unfinished(self.ctx)
        if resumed:
            log.info("resuming analysis of %d image(s) left unfinished", resumed)

    def close(self) -> None:
        self.worker.shutdown(wait=True)
        self.ctx.engine.dispose()


def build_runtime(settings: Settings, migrate: bool = True) -> Runtime:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if migrate:
        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    worker = EmbeddedWorker(TASKS, settings.threads)
    ctx = AppContext(settings, engine, LocalBlobStore(settings.blob_dir), worker)
    worker.bind(ctx)
    return Runtime(ctx, worker)

"""Celery: the distributed job backend. The tasks are the registry's plain functions, unchanged.

Messages carry a task name and ids only. Tasks are acknowledged after they ran (a worker that
dies mid-task has its message delivered again), retried with backoff on transient faults (the
database or the broker away for a moment), and idempotent, so a second run changes nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Celery, Task
from kombu.entity import Queue

from backend.config import Settings
from backend.db.engine import make_engine
from backend.services.context import AppContext
from backend.services.storage.factory import make_blob_store
from backend.services.worker.faults import TRANSIENT as BASE_TRANSIENT
from backend.services.worker.registry import TASKS, TaskSpec, check_registry

log = logging.getLogger(__name__)

QUEUES = ("ingest", "cpu", "model", "grouping")
MAX_RETRIES = 20  # about a quarter of an hour of backoff, then the task gives up
# Faults that pass: retried with exponential backoff (1 s, 2 s, 4 s … at most a minute).
TRANSIENT: tuple[type[Exception], ...] = BASE_TRANSIENT + (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
)


class CeleryJobQueue:
    """``JobQueue`` that publishes to the broker, to the task's own queue."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue(self, name: str, **kwargs: Any) -> None:
        spec = TASKS[name]
        try:
            self.app.send_task(
                name,
                kwargs=kwargs,
                queue=spec.queue,
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
            )
        except TRANSIENT:
            # The work is in the database, not only in the message: a worker's sweep
            # (recovery.resume_unfinished) sends it again once the broker is back.
            log.warning("broker unreachable; %s%s will be re-sent by the sweep", name, kwargs)

    def reachable(self) -> bool:
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:  # any broker failure means "not now"
            return False


class _ContextHolder:
    """One AppContext per worker process, made after the fork (engines must not be shared)."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self._lock = threading.Lock()
        self._pid = 0
        self._ctx: AppContext | None = None

    def get(self) -> AppContext:
        with self._lock:
            if self._ctx is None or self._pid != os.getpid():
                if self._ctx is not None:
                    # Forked from a process that had an engine: drop its pooled connections
                    # without closing them (they belong to the parent).
                    self._ctx.engine.dispose(close=False)
                engine = make_engine(self.settings.database_url)
                store = make_blob_store(self.settings.storage_location)
                self._ctx = AppContext(self.settings, engine, store, CeleryJobQueue(self.app))
                self._pid = os.getpid()
            return self._ctx


def make_celery(settings: Settings) -> Celery:
    check_registry(TASKS)
    app = Celery("dupfinder", broker=settings.celery_broker_url)
    app.conf.update(
        result_backend=settings.celery_backend_url or None,
        task_ignore_result=True,  # progress lives in the database, not in task results
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # long image tasks: never hoard messages
        task_queues=[Queue(q) for q in QUEUES],
        task_default_queue="cpu",
        task_routes={name: {"queue": spec.queue} for name, spec in TASKS.items()},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker restart is waited out, not fatal
        # An unacknowledged message of a killed worker comes back after this long.
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout},
        worker_hijack_root_logger=False,
    )
    holder = _ContextHolder(app, settings)
    app.conf.dupfinder_context = holder
    for spec in TASKS.values():
        _register(app, spec, holder)
    return app


def _register(app: Celery, spec: TaskSpec, holder: _ContextHolder) -> None:
    @app.task(
        name=spec.name,
        bind=True,
        max_retries=MAX_RETRIES,
    )
    def run(self: Task[Any, Any], /, **kwargs: Any) -> None:
        ctx = holder.get()
        try:
            spec.run(ctx, **kwargs)
        except TRANSIENT as exc:
            if self.request.retries >= MAX_RETRIES:
                spec.give_up(ctx, exc, **kwargs)
                return
            raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc


def context_of(app: Celery) -> AppContext:
    """The worker process's context (for the sweep)."""
    holder: _ContextHolder = app.conf.dupfinder_context
    return holder.get()

"""Celery: the distributed job backend. The tasks are the registry's plain functions, unchanged.

Messages carry a task name and ids only. Tasks are acknowledged after they ran (a worker that
dies mid-task has its message delivered again), retried with backoff on transient faults (the
database or the broker away for a moment), and idempotent, so a second run changes nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import redis
import redis.exceptions
from celery import Celery, Task
from celery.signals import worker_process_init
from kombu.entity import Queue
from kombu.transport import redis as kombu_redis

from backend.config import Settings
from backend.services.context import AppContext
from backend.services.worker.faults import TRANSIENT as BASE_TRANSIENT
from backend.services.worker.pool_term import POOL_TERM
from backend.services.worker.tasks import QUEUES, TASKS, TaskSpec, check_registry

log = logging.getLogger(__name__)

MAX_RETRIES = 20  # about a quarter of an hour of backoff, then the task gives up
# Faults that pass: retried with exponential backoff (1 s, 2 s, 4 s … at most a minute).
TRANSIENT: tuple[type[Exception], ...] = BASE_TRANSIENT + (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
)


class CeleryJobQueue:
    """``JobQueue`` that publishes to the broker, to the task's own queue."""

    OUTAGE_BACKOFF = 5.0  # seconds without trying after the broker failed

    def __init__(self, app: Celery, gather: float = 1.0) -> None:
        self.app = app
        # A deduplicated task (one owner's grouping) waits this long, so that the analyses
        # that finish meanwhile are grouped in one run instead of one run each.
        self.gather = gather
        url = str(app.conf.broker_url or "")
        self._redis = redis.Redis.from_url(url) if url.startswith("redis") else None
        self._down_until = 0.0

    def enqueue(self, name: str, **kwargs: Any) -> None:
        spec = TASKS[name]
        if time.monotonic() < self._down_until:
            return  # the broker just failed: don't make every caller wait for it again
        try:
            if spec.dedupe and self._redis is not None:
                # One waiting copy is enough (the worker clears the mark when it starts). The
                # mark expires soon by itself: if its message is lost with a killed worker, the
                # next request (or the sweep) must be able to send another.
                ttl = int(max(10, 10 * self.gather))
                if not self._redis.set(waiting_key(name, kwargs), 1, nx=True, ex=ttl):
                    return
            self.app.send_task(
                name,
                kwargs=kwargs,
                queue=spec.queue,
                countdown=self.gather if spec.dedupe and self.gather > 0 else None,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
            )
        except TRANSIENT:
            # The work is in the database, not only in the message: a worker's sweep
            # (recovery.resume_unfinished) sends it again once the broker is back.
            self._down_until = time.monotonic() + self.OUTAGE_BACKOFF
            log.warning("broker unreachable; %s%s will be re-sent by the sweep", name, kwargs)

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        spec = TASKS[name]
        try:
            if spec.dedupe and self._redis is not None:  # as ``enqueue``: one waiting copy
                ttl = int(max(10, delay + 10 * self.gather))
                if not self._redis.set(waiting_key(name, kwargs), 1, nx=True, ex=ttl):
                    return
            self.app.send_task(
                name,
                kwargs=kwargs,
                queue=spec.queue,
                countdown=max(0.0, delay),
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
            )
        except TRANSIENT:
            log.warning("broker unreachable; %s%s will be re-sent by the sweep", name, kwargs)

    def started(self, name: str, kwargs: dict[str, Any]) -> None:
        """A deduplicated task began: a request from now on needs a run of its own."""
        if self._redis is not None:
            self._redis.delete(waiting_key(name, kwargs))

    def reachable(self) -> bool:
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:  # any broker failure means "not now"
            return False


def waiting_key(name: str, kwargs: dict[str, Any]) -> str:
    args = ",".join(f"{k}={kwargs[k]}" for k in sorted(kwargs))
    return f"dupfinder:waiting:{name}:{args}"


class _Channel(kombu_redis.Channel):
    """kombu 5.7's redis channel dereferences a connection that a reconnect already closed and
    the worker exits ("Unrecoverable error"); raise the connection error Celery recovers from."""

    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection is None or self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        return super()._connparams(asynchronous)  # type: ignore[misc]


class RedisTransport(kombu_redis.Transport):
    Channel = _Channel


ContextFactory = Callable[[Celery], AppContext]


class _ProcessContext:
    """The worker process's context, made by the runtime's factory once per process, after the
    fork (a database engine's connections must not be shared with the parent)."""

    def __init__(self, app: Celery, factory: ContextFactory | None) -> None:
        self.app, self.factory = app, factory
        self._lock = threading.Lock()
        self._pid = 0
        self._ctx: AppContext | None = None

    def get(self) -> AppContext:
        if self.factory is None:
            raise RuntimeError("this Celery app only sends jobs: build it with a context to run")
        with self._lock:
            if self._ctx is None or self._pid != os.getpid():
                if self._ctx is not None:
                    # Forked from a process that had an engine: drop its pooled connections
                    # without closing them (they belong to the parent).
                    self._ctx.engine.dispose(close=False)
                self._ctx = self.factory(self.app)
                self._pid = os.getpid()
            return self._ctx


def make_celery(settings: Settings, context: ContextFactory | None = None) -> Celery:
    """The Celery app. ``context`` (the runtime's) builds what tasks run with; without it the
    app only sends jobs (the API's side)."""
    check_registry(TASKS)
    app = Celery("dupfinder", broker=settings.celery_broker_url)
    if settings.celery_broker_url.startswith("redis"):
        app.conf.broker_transport = "backend.services.worker.celery_app:RedisTransport"
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
    holder = _ProcessContext(app, context)
    app.conf.dupfinder_context = holder
    worker_process_init.connect(POOL_TERM.pool_process_started, weak=False)
    for spec in TASKS.values():
        _register(app, spec, holder)
    return app


def _register(app: Celery, spec: TaskSpec, holder: _ProcessContext) -> None:
    @app.task(
        name=spec.name,
        bind=True,
        max_retries=MAX_RETRIES,
    )
    def run(self: Task[Any, Any], /, **kwargs: Any) -> None:
        ctx = holder.get()
        if spec.dedupe and isinstance(ctx.jobs, CeleryJobQueue):
            ctx.jobs.started(spec.name, kwargs)
        try:
            with POOL_TERM.task():
                spec.run(ctx, **kwargs)
        except TRANSIENT as exc:
            if self.request.retries >= MAX_RETRIES:
                spec.give_up(ctx, exc, **kwargs)
                return
            raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc


def context_of(app: Celery) -> AppContext:
    """The worker process's context (for the sweep)."""
    holder: _ProcessContext = app.conf.dupfinder_context
    return holder.get()

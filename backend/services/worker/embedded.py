"""The embedded worker: runs tasks on background threads inside the service process.

A thread pool for image work (Pillow and NumPy release the GIL while decoding and hashing)
and a single thread for grouping, so one owner's groups are never updated twice at once.
Nothing is kept only in memory: what still needs doing is a query (see ``recover``).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from backend.services.context import AppContext
from backend.services.worker.registry import TaskSpec, check_registry

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, registry: dict[str, TaskSpec], threads: int) -> None:
        check_registry(registry)
        self.registry = registry
        self.ctx: AppContext | None = None
        self._pools = {
            "cpu": ThreadPoolExecutor(threads, thread_name_prefix="dupfinder-cpu"),
            "grouping": ThreadPoolExecutor(1, thread_name_prefix="dupfinder-group"),
        }
        unknown = {s.queue for s in registry.values()} - set(self._pools)
        if unknown:
            raise RuntimeError(f"tasks name unknown queues: {', '.join(sorted(unknown))}")
        self._lock = threading.Condition()
        self._waiting: set[tuple[str, tuple[tuple[str, Any], ...]]] = set()
        self._in_flight = 0
        self._closed = False
        self.errors = 0

    def bind(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def enqueue(self, name: str, **kwargs: Any) -> None:
        spec = self.registry.get(name)
        if spec is None:
            raise KeyError(f"no task named {name!r}")
        key = (name, tuple(sorted(kwargs.items())))
        with self._lock:
            if self._closed:
                return  # shutting down: ``recover`` picks the work up at the next start
            if spec.dedupe and key in self._waiting:
                return
            self._waiting.add(key)
            self._in_flight += 1
        future: Future[None] = self._pools[spec.queue].submit(self._run, spec, key, kwargs)
        future.add_done_callback(self._finished)

    def _run(self, spec: TaskSpec, key: Any, kwargs: dict[str, Any]) -> None:
        with self._lock:
            self._waiting.discard(key)  # from now on a new request needs a new run
        assert self.ctx is not None, "bind() the worker to a context before enqueueing"
        try:
            spec.run(self.ctx, **kwargs)
        except Exception:
            self.errors += 1
            log.exception("task %s%s failed", spec.name, kwargs)

    def _finished(self, _future: Future[None]) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()

    def reachable(self) -> bool:
        return not self._closed

    def busy(self) -> bool:
        with self._lock:
            return self._in_flight > 0

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued task (and what they queued) has run."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
        for pool in self._pools.values():
            pool.shutdown(wait=wait, cancel_futures=not wait)

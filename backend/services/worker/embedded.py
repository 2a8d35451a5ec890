"""The embedded worker: runs tasks on background threads inside the service process.

A thread pool for image work (Pillow and NumPy release the GIL while decoding and hashing),
one thread for the models (ONNX Runtime spreads each batch over the cores itself) and a
single thread for grouping, so one owner's groups are never updated twice at once.
Nothing is kept only in memory: what still needs doing is a query (see ``recover``).

With ``processes`` (what ``dupfinder serve`` uses), the queues it names run their tasks in
child processes instead (``processes.py``): the threads here then only wait for them, so the
API's requests do not share the GIL with decoding, inference and grouping.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from backend.services.context import AppContext
from backend.services.job_queue import JobQueue
from backend.services.worker.faults import RETRIES, TRANSIENT
from backend.services.worker.processes import AnalysisProcesses, ChildTaskError
from backend.services.worker.tasks import QUEUES, TaskSpec, check_registry

log = logging.getLogger(__name__)
Listener = Callable[[str, dict[str, Any]], None]  # (task name, its arguments)


class EmbeddedWorker:
    """The job queue of the embedded mode. ``make_context`` builds the context the tasks run
    with around this worker (the tasks it runs send their follow-ups back here)."""

    def __init__(
        self,
        registry: dict[str, TaskSpec],
        make_context: Callable[[JobQueue], AppContext],
        threads: int,
        retry_base: float = 0.5,
        gather: float = 0.0,
        processes: AnalysisProcesses | None = None,
    ) -> None:
        check_registry(registry)
        self.registry = registry
        self.processes = processes
        self._pools = {
            # Fetching waits on the network, not the CPU: a couple of threads of its own.
            "ingest": ThreadPoolExecutor(2, thread_name_prefix="dupfinder-ingest"),
            "cpu": ThreadPoolExecutor(threads, thread_name_prefix="dupfinder-cpu"),
            "model": ThreadPoolExecutor(1, thread_name_prefix="dupfinder-model"),
            "grouping": ThreadPoolExecutor(1, thread_name_prefix="dupfinder-group"),
        }
        assert set(self._pools) == set(QUEUES)
        self._lock = threading.Condition()
        self._waiting: set[tuple[str, str]] = set()
        # Gathered jobs whose window is still open: (timer, spec, arguments) by key.
        self._gathering: dict[Any, tuple[threading.Timer, TaskSpec, dict[str, Any]]] = {}
        self._in_flight = 0
        self._closed = False
        self.errors = 0
        self.retry_base = retry_base
        self.gather = gather
        # Told of every task that has run for good (not one that will be retried): what a
        # progress display counts, image by image (see ``watch``).
        self._listeners: list[Listener] = []
        self.ctx = make_context(self)

    @contextmanager
    def watch(self, listener: Listener) -> Iterator[None]:
        """Call ``listener(name, kwargs)`` on the worker's thread after each task has run."""
        with self._lock:
            self._listeners.append(listener)
        try:
            yield
        finally:
            with self._lock:
                self._listeners.remove(listener)

    def _ran(self, name: str, kwargs: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(name, kwargs)
            except Exception:  # a display must never fail the task it reports on
                log.exception("progress listener failed on %s", name)

    def enqueue(self, name: str, **kwargs: Any) -> None:
        spec = self.registry.get(name)
        if spec is None:
            raise KeyError(f"no task named {name!r}")
        key = (name, json.dumps(kwargs, sort_keys=True))  # arguments are plain JSON values
        # Wait a moment so the analyses finishing meanwhile are grouped in one run (or less:
        # see ``_finished``).
        gathered = spec.dedupe and self.gather > 0
        timer = threading.Timer(self.gather, self._gathered, (key,)) if gathered else None
        with self._lock:
            if self._closed:
                return  # shutting down: ``recover`` picks the work up at the next start
            if spec.dedupe and key in self._waiting:
                return
            self._waiting.add(key)
            self._in_flight += 1
            if timer is not None:  # counted and listed at once: ``_finished`` sees both
                self._gathering[key] = (timer, spec, kwargs)
        if timer is not None:
            timer.daemon = True
            timer.start()
            return
        self._submit(spec, key, kwargs, 0)

    def _gathered(self, key: Any) -> None:
        """A gathered job's window closed (its timer, or an idle worker): send it, once; after
        shutdown, drop it (``recover`` sends it again at the next start)."""
        with self._lock:
            entry = self._gathering.pop(key, None)
            closed = self._closed
        if entry is None:
            return
        timer, spec, kwargs = entry
        timer.cancel()
        if closed:
            self._finished(None)
        else:
            self._submit(spec, key, kwargs, 0)

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        spec = self.registry.get(name)
        if spec is None:
            raise KeyError(f"no task named {name!r}")
        key = (name, json.dumps(kwargs, sort_keys=True))
        with self._lock:
            if self._closed:
                return  # recovery sends it again at the next start
            if spec.dedupe:  # one waiting copy, sent now or later, is enough
                if key in self._waiting:
                    return
                self._waiting.add(key)
            self._in_flight += 1  # owed: wait_idle() waits for it too
        timer = threading.Timer(max(0.0, delay), self._submit, (spec, key, kwargs, 0))
        timer.daemon = True
        timer.start()

    def _submit(self, spec: TaskSpec, key: Any, kwargs: dict[str, Any], attempt: int) -> None:
        try:
            future = self._pools[spec.queue].submit(self._run, spec, key, kwargs, attempt)
        except RuntimeError:  # shut down meanwhile: recovery resends it at the next start
            self._finished(None)
            return
        future.add_done_callback(self._finished)

    def _run(self, spec: TaskSpec, key: Any, kwargs: dict[str, Any], attempt: int = 0) -> None:
        with self._lock:
            self._waiting.discard(key)  # from now on a new request needs a new run
        try:
            self._execute(spec, kwargs)
        except Exception as exc:
            if not _transient(exc):
                self.errors += 1
                if isinstance(exc, ChildTaskError):  # its traceback is in the child's log
                    log.error("task %s%s failed: %s", spec.name, kwargs, exc)
                else:
                    log.exception("task %s%s failed", spec.name, kwargs)
            elif attempt < RETRIES and not self._closed:
                log.warning("task %s%s: %r; retrying", spec.name, kwargs, exc)
                self._retry_later(spec, key, kwargs, attempt + 1)
                return
            else:
                self.errors += 1
                try:
                    spec.give_up(self.ctx, exc, **kwargs)
                except Exception:
                    log.exception("recording the failure of %s%s failed too", spec.name, kwargs)
        self._ran(spec.name, kwargs)

    def _execute(self, spec: TaskSpec, kwargs: dict[str, Any]) -> None:
        if self.processes is None or spec.queue not in self.processes.queues:
            spec.run(self.ctx, **kwargs)
            return
        outcome = self.processes.run(spec.queue, spec.name, kwargs)
        for delay, name, args in outcome.follow_ups:  # already committed in the child
            if delay > 0:
                self.enqueue_later(delay, name, **args)
            else:
                self.enqueue(name, **args)
        if outcome.error is not None:
            raise outcome.error

    def _retry_later(self, spec: TaskSpec, key: Any, kwargs: dict[str, Any], attempt: int) -> None:
        with self._lock:
            self._in_flight += 1  # still owed: wait_idle() waits for the retry too

        delay = self.retry_base * 2 ** (attempt - 1)
        timer = threading.Timer(delay, self._submit, (spec, key, kwargs, attempt))
        timer.daemon = True
        timer.start()

    def _finished(self, _future: Future[None] | None) -> None:
        with self._lock:
            self._in_flight -= 1
            # Nothing left but gathered jobs waiting for their window: nothing more can join
            # them, so they go now (a scan's last grouping no longer idles for the window).
            flush = list(self._gathering) if self._in_flight == len(self._gathering) else []
            self._lock.notify_all()
        for key in flush:
            self._gathered(key)

    def reachable(self) -> bool:
        return not self._closed

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued task (and what they queued) has run."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
        for pool in self._pools.values():
            pool.shutdown(wait=wait, cancel_futures=not wait)
        if self.processes is not None:
            self.processes.shutdown(wait=wait)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT) or (isinstance(exc, ChildTaskError) and exc.transient)

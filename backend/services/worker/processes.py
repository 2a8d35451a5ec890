"""Embedded mode's analysis in child processes, so the service's own process keeps its GIL
(and its cores, at a lower priority for the children) for the people using the API.

Each queue that does heavy work (image work, models, grouping) gets its own child processes:
the model process keeps its models loaded, the grouping process its hash index. Every child is
an executor of its own (one process, one task at a time), so a child that dies fails only the
task it ran, never a sibling's.
A child runs the same task functions as a Celery worker, with a context of its own; the jobs a
task sends (after its commits) are handed back with its outcome and sent by the parent's
``EmbeddedWorker``, which keeps the queue, the retries and the progress reports. A child that
dies (a decoder crash, the kernel's OOM killer) takes down only the task it ran: the child is
replaced and the task is retried, then given up with the reason, like any transient failure.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

from backend.config import Settings
from backend.core.decode_budget import GATE
from backend.services.context import AppContext
from backend.services.job_queue import JobQueue
from backend.services.worker.faults import TRANSIENT
from backend.services.worker.tasks import TaskSpec

log = logging.getLogger(__name__)
FollowUp = tuple[float, str, dict[str, Any]]  # (delay in seconds, task name, arguments)
ContextFactory = Callable[[Settings, JobQueue], AppContext]  # the wiring (runtime.make_context)


class ChildTaskError(Exception):
    """A task failed in a child process. ``transient``: worth another try (the database or
    the disk away a moment, or the child itself died)."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient

    def __reduce__(self) -> tuple[Any, tuple[str, bool]]:
        # It travels from the child to the parent: pickle must rebuild it with both arguments
        # (the default rebuilds from ``args``, the message alone, and fails in the parent).
        return (ChildTaskError, (str(self), self.transient))


@dataclass
class Outcome:
    """What a task run in a child hands back: the jobs it sent, then how it ended."""

    follow_ups: list[FollowUp] = field(default_factory=list)
    error: BaseException | None = None


class _Collected:
    """The job queue of a child: keeps what a task sends, for the parent to send."""

    def __init__(self) -> None:
        self.jobs: list[FollowUp] = []

    def enqueue(self, name: str, **kwargs: Any) -> None:
        self.jobs.append((0.0, name, kwargs))

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        self.jobs.append((delay, name, kwargs))

    def reachable(self) -> bool:
        return True


_child: tuple[AppContext, _Collected, dict[str, TaskSpec]] | None = None


def _start_child(
    settings: Settings,
    registry: dict[str, TaskSpec],
    make_context: ContextFactory,
    nice: int,
    log_level: int,
    gate: Any,
) -> None:
    """A child's initializer: lower priority, the service's decode budget, logging, and its
    own context (``make_context`` travels by name: the child imports the wiring itself)."""
    global _child
    # Ctrl-C reaches the whole process group: the parent stops the children in order (the
    # task in flight ends, then the pool), so a child does not die mid-write of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    GATE.adopt(gate)  # one memory budget for every process of the service
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True).start()
    logging.basicConfig(level=log_level, format="%(levelname)s [analysis %(process)d] %(message)s")
    queue = _Collected()
    _child = (make_context(settings, queue), queue, registry)


def _end_with_parent(parent: int) -> None:
    """A child whose service was killed (kill -9, the OOM killer) ends too: its task queue's
    pipe stays open in the children themselves, so nothing else would tell it."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _run_in_child(name: str, kwargs: dict[str, Any]) -> Outcome:
    assert _child is not None, "the analysis process was not initialised"
    ctx, queue, registry = _child
    queue.jobs = []
    outcome = Outcome()
    try:
        registry[name].run(ctx, **kwargs)
    except Exception as exc:
        transient = isinstance(exc, TRANSIENT)
        if not transient:
            log.exception("task %s%s failed", name, kwargs)
        outcome.error = _portable(exc, transient)
    outcome.follow_ups = queue.jobs  # sent after their commits, even when a later step failed
    return outcome


def _portable(exc: Exception, transient: bool) -> BaseException:
    """The exception itself when it survives pickling (the parent's retry rules and give-up
    handlers see the real thing), else its words."""
    try:
        back = pickle.loads(pickle.dumps(exc))
    except Exception:
        back = None
    if isinstance(back, Exception) and isinstance(back, TRANSIENT) == transient:
        return exc
    return ChildTaskError(f"{type(exc).__name__}: {exc}", transient)


class AnalysisProcesses:
    """Per queue, ``sizes[queue]`` child processes (each started when first needed)."""

    def __init__(
        self,
        settings: Settings,
        registry: dict[str, TaskSpec],
        make_context: ContextFactory,
        sizes: dict[str, int],
        nice: int = 10,
    ) -> None:
        self._settings = settings
        self._registry = registry  # sent to each child: handlers go by module path
        self._make_context = make_context  # a module-level function: pickled by its name
        self._sizes = sizes
        self._nice = nice
        # One single-process executor per slot: a ProcessPoolExecutor whose process dies
        # fails every task in flight in it, so children share no executor.
        self._children: dict[tuple[str, int], ProcessPoolExecutor] = {}
        self._free: dict[str, SimpleQueue[int]] = {}
        for name, size in sizes.items():
            self._free[name] = SimpleQueue()
            for slot in range(size):
                self._free[name].put(slot)
        self._lock = threading.Lock()
        self._closed = False
        self._gate = GATE.share(settings.data_dir / "run")  # the budget's lock file

    @property
    def queues(self) -> frozenset[str]:
        return frozenset(self._sizes)

    def _child(self, key: tuple[str, int]) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise ChildTaskError("the service is shutting down", transient=True)
            child = self._children.get(key)
            if child is None:
                # spawn, not fork: the service's process has threads (a fork copies their locks
                # in whatever state they are) and an open database connection pool.
                child = self._children[key] = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_child,
                    initargs=(
                        self._settings,
                        self._registry,
                        self._make_context,
                        self._nice,
                        logging.getLogger().getEffectiveLevel(),
                        self._gate,
                    ),
                )
            return child

    def run(self, queue: str, name: str, kwargs: dict[str, Any]) -> Outcome:
        """Run the task in one of the queue's children: the jobs it sent and how it ended."""
        slot = self._free[queue].get()  # the worker runs no more threads per queue than slots
        try:
            return self._run_in(queue, slot, name, kwargs)
        finally:
            self._free[queue].put(slot)

    def _run_in(self, queue: str, slot: int, name: str, kwargs: dict[str, Any]) -> Outcome:
        key = (queue, slot)
        try:
            child = self._child(key)
        except ChildTaskError as exc:
            return Outcome(error=exc)
        try:
            try:
                future = child.submit(_run_in_child, name, kwargs)
            except BrokenProcessPool:
                # The child died while idle (the OOM killer picks the largest): the task has
                # not run, so it goes to a new child without costing it a try.
                self._replace(key, child)
                child = self._child(key)
                future = child.submit(_run_in_child, name, kwargs)
            outcome: Outcome = future.result()
        except ChildTaskError as exc:  # shutting down meanwhile
            return Outcome(error=exc)
        except BrokenProcessPool as exc:
            self._replace(key, child)
            reason = f"the analysis process stopped while running {name} ({exc})"
            return Outcome(error=ChildTaskError(reason, transient=True))
        except RuntimeError as exc:  # submitted while shutting down
            return Outcome(error=ChildTaskError(str(exc), transient=True))
        return outcome

    def _replace(self, key: tuple[str, int], broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._children.get(key) is broken:
                del self._children[key]  # the slot's next task starts a new child
        broken.shutdown(wait=False, cancel_futures=True)

    def pids(self) -> list[int]:
        """The children started and not yet ended (for the tests and benchmarks)."""
        with self._lock:
            children = list(self._children.values())
        processes = [p for child in children for p in (child._processes or {}).values()]
        return sorted(p.pid for p in processes if p.pid is not None and p.is_alive())

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            children = list(self._children.values())
            self._children.clear()
        for child in children:
            child.shutdown(wait=wait, cancel_futures=not wait)

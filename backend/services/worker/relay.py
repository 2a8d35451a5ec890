"""Jobs sent from `dupfinder serve`'s API processes to the one process that runs the
embedded worker.

With several API processes (``DUPFINDER_API_PROCESSES``), requests are answered in child
processes so that reads use every core; the analysis (the embedded worker and its own child
processes) stays single, in the supervising process. A request's jobs reach it through a
multiprocessing queue: ``RelayedJobQueue`` puts them there after the request's transaction
commits (like every ``JobQueue``); ``JobRelay`` hands them to the worker.
"""

from __future__ import annotations

import logging
import os
import threading
from multiprocessing.queues import Queue
from typing import Any

from backend.services.job_queue import JobQueue

log = logging.getLogger(__name__)
# (delay in seconds or None, task name, its arguments); None alone ends the relay.
Message = tuple[float | None, str, dict[str, Any]] | None


class RelayedJobQueue:
    """An API process's job queue: the jobs go to the supervising process's worker."""

    def __init__(self, queue: Queue[Message], supervisor_pid: int) -> None:
        self._queue = queue
        self._supervisor = supervisor_pid

    def enqueue(self, name: str, **kwargs: Any) -> None:
        self._queue.put((None, name, kwargs))

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        self._queue.put((delay, name, kwargs))

    def reachable(self) -> bool:
        # Our parent is the supervisor while it lives; an orphan is re-parented.
        return os.getppid() == self._supervisor


class JobRelay(threading.Thread):
    """The supervisor's side: every job the API processes send, to ``worker``."""

    def __init__(self, queue: Queue[Message], worker: JobQueue) -> None:
        super().__init__(name="dupfinder-job-relay", daemon=True)
        self._queue, self._worker = queue, worker

    def run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            delay, name, kwargs = message
            try:
                if delay is None:
                    self._worker.enqueue(name, **kwargs)
                else:
                    self._worker.enqueue_later(delay, name, **kwargs)
            except Exception:  # one bad job must not stop the others; the sweep re-sends
                log.exception("could not start job %s%s", name, kwargs)

    def stop(self) -> None:
        self._queue.put(None)
        self.join(timeout=10)

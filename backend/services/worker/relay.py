"""Jobs sent from `dupfinder serve`'s API processes to the one process that runs the
embedded worker.

With several API processes (``DUPFINDER_API_PROCESSES``), requests are answered in child
processes so that reads use every core; the analysis (the embedded worker and its own child
processes) stays single, in the supervising process. Each API process has its own pipe to it:
``RelayedJobQueue`` sends a request's jobs there once the request's transaction commits (like
every ``JobQueue``); ``JobRelay`` hands them to the worker. A pipe of its own, written without
a buffer thread, means an API process that is killed takes nobody else's jobs with it, and a
job is either in the pipe or was never sent (the sweep finds such work again).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from multiprocessing.connection import Connection, wait
from typing import Any

from backend.services.job_queue import JobQueue

log = logging.getLogger(__name__)
# (delay in seconds or None, task name, its arguments)
type Message = tuple[float | None, str, dict[str, Any]]


class RelayedJobQueue:
    """An API process's job queue: the jobs go to the supervising process's worker."""

    def __init__(self, pipe: Connection, supervisor_pid: int) -> None:
        self._pipe = pipe
        self._supervisor = supervisor_pid
        self._lock = threading.Lock()  # request threads send whole messages, one at a time
        self._broken = False

    def _send(self, message: Message) -> None:
        try:
            with self._lock:
                self._pipe.send(message)
        except OSError as exc:  # the supervisor is gone: its next start resumes the work
            self._broken = True
            log.warning("job %s%s not relayed: %s", message[1], message[2], exc)

    def enqueue(self, name: str, **kwargs: Any) -> None:
        self._send((None, name, kwargs))

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        self._send((delay, name, kwargs))

    def reachable(self) -> bool:
        # Our parent is the supervisor while it lives; an orphan is re-parented.
        return os.getppid() == self._supervisor and not self._broken


class JobRelay(threading.Thread):
    """The supervisor's side: every job the API processes send, to ``worker``."""

    def __init__(self, worker: JobQueue) -> None:
        super().__init__(name="dupfinder-job-relay", daemon=True)
        self._worker = worker
        self._pipes: list[Connection] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def channel(self) -> Connection:
        """The sending end of a new pipe, for one API process (close this process's copy once
        that process has started: the pipe ends when the API process does)."""
        receiving, sending = multiprocessing.Pipe(duplex=False)
        with self._lock:
            self._pipes.append(receiving)
        return sending

    def run(self) -> None:
        while True:
            with self._lock:
                pipes = list(self._pipes)
            if not pipes and self._closing.is_set():
                return  # every API process has ended and all they sent was handed on
            for ready in wait(pipes, timeout=0.5) if pipes else ():
                assert isinstance(ready, Connection)
                try:
                    message: Message = ready.recv()
                except (EOFError, OSError):  # that API process ended
                    with self._lock:
                        self._pipes.remove(ready)
                    ready.close()
                    continue
                self._hand_on(message)
            if not pipes:
                self._closing.wait(0.5)

    def _hand_on(self, message: Message) -> None:
        delay, name, kwargs = message
        try:
            if delay is None:
                self._worker.enqueue(name, **kwargs)
            else:
                self._worker.enqueue_later(delay, name, **kwargs)
        except Exception:  # one bad job must not stop the others; the sweep re-sends
            log.exception("could not start job %s%s", name, kwargs)

    def stop(self, timeout: float = 10.0) -> None:
        """Once the API processes have ended: hand on what they sent, then stop."""
        self._closing.set()
        self.join(timeout)
        with self._lock:
            for pipe in self._pipes:
                pipe.close()

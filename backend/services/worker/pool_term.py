"""SIGTERM in a Celery pool process: finish the task in flight, then go.

systemd (``KillMode=control-group``), ``kill -TERM -PGID`` and some container runtimes signal
every process of a worker at once. The main process answers with a warm shutdown (tasks in
flight finish), but billiard's handler in each pool process raises ``SystemExit`` wherever the
task happens to be: inside the database driver's wait it left the connection mid-query, and the
task failed with a driver error ("can't change 'autocommit' now: connection in transaction
status ACTIVE") while its message was redelivered. Here a pool process that is running a task
notes the signal and exits once the task has returned and its result has left.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_Handler = Callable[[int, FrameType | None], Any] | int | None


class PoolProcessTerm:
    # After the task returns, the pool process still sends its result to the main process:
    # leave it that long before acting on the signal.
    RESULT_GRACE = 0.5

    def __init__(self) -> None:
        self.in_pool_process = False  # set in each prefork pool process (worker_process_init)
        self.busy = False
        self.requested = False
        self._default: _Handler = None

    def pool_process_started(self, **_: Any) -> None:
        self.in_pool_process = True

    @contextmanager
    def task(self) -> Iterator[None]:
        """Around each task's run in a pool process: a SIGTERM meanwhile waits for its end."""
        if not self.in_pool_process or threading.current_thread() is not threading.main_thread():
            yield
            return
        current = signal.getsignal(signal.SIGTERM)
        # billiard installs its own after the fork (!=, not "is not": a new bound method each time)
        if current != self._on_term:
            self._default = current
            signal.signal(signal.SIGTERM, self._on_term)
        self.busy = True
        try:
            yield
        finally:
            self.busy = False
            if self.requested:
                threading.Thread(target=self._exit_when_idle, daemon=True).start()

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        if self.busy:
            self.requested = True  # acted on when the task returns
            return
        if callable(self._default):
            self._default(signum, frame)
        else:
            raise SystemExit(128 + signum)

    def _exit_when_idle(self) -> None:
        time.sleep(self.RESULT_GRACE)
        while self.busy:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)


POOL_TERM = PoolProcessTerm()

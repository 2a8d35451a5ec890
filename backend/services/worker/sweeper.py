"""The sweep: a Celery worker's background thread that re-sends work whose messages were lost.

One worker at a time sweeps (a short Redis lock), every ``sweep_seconds``, for images whose job
has not moved for that long (see recovery.resume_unfinished). The embedded mode runs one too,
without the lock, for work whose task gave up on a fault that has since passed.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import redis

from backend.services.context import AppContext
from backend.services.worker.recovery import resume_unfinished

log = logging.getLogger(__name__)
LOCK_KEY = "dupfinder:sweep"


class Sweeper(threading.Thread):
    def __init__(self, context: Callable[[], AppContext], every: float, broker_url: str) -> None:
        super().__init__(name="dupfinder-sweep", daemon=True)
        self.context, self.every = context, every
        self._redis = redis.Redis.from_url(broker_url) if broker_url.startswith("redis") else None
        self._halt = threading.Event()

    def _my_turn(self) -> bool:
        if self._redis is None:
            return True
        ttl = max(1, int(self.every * 0.9))
        return bool(self._redis.set(LOCK_KEY, socket.gethostname(), nx=True, ex=ttl))

    def sweep_once(self) -> int:
        if not self._my_turn():
            return 0
        resent = resume_unfinished(self.context(), stale_after=self.every)
        if resent:
            log.warning("re-sent %d image(s) whose work had stopped moving", resent)
        return resent

    def run(self) -> None:
        while not self._halt.wait(self.every):
            try:
                self.sweep_once()
            except Exception:  # the database or broker away: try again next round
                log.exception("sweep failed; retrying in %.0f s", self.every)

    def stop(self) -> None:
        self._halt.set()

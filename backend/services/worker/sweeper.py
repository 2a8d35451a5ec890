"""The sweep: a Celery worker's background thread that re-sends work whose messages were lost.

One worker at a time sweeps (a short Redis lock), every ``sweep_seconds``, for images whose job
has not moved for that long (see recovery.resume_unfinished). The embedded mode runs one too,
without the lock, for work whose task gave up on a fault that has since passed. Every
``orphan_sweep_seconds`` (one worker in all, by its own lock) it also deletes stored files that
no image refers to and nobody wrote for ``orphan_grace_seconds`` (cleanup.sweep_orphans).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

import redis

from backend.services.context import AppContext
from backend.services.storage.cleanup import sweep_orphans
from backend.services.worker.recovery import resume_unfinished

log = logging.getLogger(__name__)
LOCK_KEY = "dupfinder:sweep"
ORPHANS_LOCK_KEY = "dupfinder:sweep-orphans"


class Sweeper(threading.Thread):
    def __init__(self, context: Callable[[], AppContext], every: float, broker_url: str) -> None:
        super().__init__(name="dupfinder-sweep", daemon=True)
        self.context, self.every = context, every
        self._redis = redis.Redis.from_url(broker_url) if broker_url.startswith("redis") else None
        self._halt = threading.Event()
        self._orphans_swept_at: float | None = None  # monotonic; None: not yet

    def _my_turn(self, key: str = LOCK_KEY, every: float | None = None) -> bool:
        if self._redis is None:
            return True
        ttl = max(1, int((every or self.every) * 0.9))
        return bool(self._redis.set(key, socket.gethostname(), nx=True, ex=ttl))

    def sweep_once(self) -> int:
        if not self._my_turn():
            return 0
        ctx = self.context()
        resent = resume_unfinished(ctx, stale_after=self.every)
        if resent:
            log.warning("re-sent %d image(s) whose work had stopped moving", resent)
        self._sweep_orphans(ctx)
        return resent

    def _sweep_orphans(self, ctx: AppContext) -> None:
        every = ctx.settings.orphan_sweep_seconds
        now = time.monotonic()
        if self._orphans_swept_at is not None and now - self._orphans_swept_at < every:
            return
        self._orphans_swept_at = now
        if self._my_turn(ORPHANS_LOCK_KEY, every):
            sweep_orphans(ctx, ctx.settings.orphan_grace_seconds)

    def run(self) -> None:
        while not self._halt.wait(self.every):
            try:
                self.sweep_once()
            except Exception:  # the database or broker away: try again next round
                log.exception("sweep failed; retrying in %.0f s", self.every)

    def stop(self) -> None:
        self._halt.set()

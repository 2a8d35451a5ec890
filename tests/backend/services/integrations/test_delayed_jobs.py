"""``enqueue_later``: how a pick polls Google without holding a worker. Both queues."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.worker.celery_app import CeleryJobQueue
from backend.services.worker.embedded import EmbeddedWorker
from backend.services.worker.tasks import TASKS, TaskSpec
from tests.helpers.app import make_settings


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    runtime = build_runtime(make_settings(tmp_path))
    yield runtime.ctx
    runtime.close()


def test_the_embedded_worker_runs_it_after_the_delay_and_waits_for_it(ctx: AppContext) -> None:
    ran: list[float] = []

    def poll(_ctx: AppContext, n: int) -> None:
        ran.append(time.monotonic())

    worker = EmbeddedWorker(
        {**TASKS, "poll": TaskSpec("poll", poll, "ingest")},
        lambda jobs: dataclasses.replace(ctx, jobs=jobs),
        threads=1,
    )
    began = time.monotonic()
    worker.enqueue_later(0.3, "poll", n=1)
    assert not worker.wait_idle(0.05)  # owed: not idle while it waits
    assert worker.wait_idle(5) and len(ran) == 1
    assert ran[0] - began >= 0.3
    worker.shutdown()
    worker.enqueue_later(0.01, "poll", n=2)  # after shut-down: dropped (recovery resends)
    time.sleep(0.05)
    assert len(ran) == 1


class SentTasks:
    """Stands in for the Celery app: records what would be published."""

    def __init__(self) -> None:
        self.conf = type("Conf", (), {"broker_url": "memory://"})()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task(self, name: str, **options: Any) -> None:
        self.sent.append((name, options))


def test_celery_publishes_it_with_a_countdown_to_the_tasks_queue() -> None:
    app = SentTasks()
    CeleryJobQueue(app, gather=0).enqueue_later(2.5, "google.import_pick", pick_id=7)  # type: ignore[arg-type]
    [(name, options)] = app.sent
    assert name == "google.import_pick"
    assert options["countdown"] == 2.5 and options["queue"] == "ingest"
    assert options["kwargs"] == {"pick_id": 7}


def test_the_embedded_worker_keeps_one_waiting_copy_of_a_deduplicated_task(
    ctx: AppContext,
) -> None:
    """A deduplicated task sent later (the tags fill looking again) and the same request sent
    meanwhile (a grouping run asking for the tags) make one run, not one each."""
    ran: list[int] = []

    def fill(_ctx: AppContext, owner_id: int) -> None:
        ran.append(owner_id)

    worker = EmbeddedWorker(
        {**TASKS, "fill": TaskSpec("fill", fill, "model", dedupe=True)},
        lambda jobs: dataclasses.replace(ctx, jobs=jobs),
        threads=1,
    )
    try:
        worker.enqueue_later(0.2, "fill", owner_id=1)
        worker.enqueue_later(0.2, "fill", owner_id=1)
        worker.enqueue("fill", owner_id=1)
        worker.enqueue_later(0.2, "fill", owner_id=2)  # another owner's: its own copy
        assert worker.wait_idle(5)
        assert sorted(ran) == [1, 2]
        worker.enqueue_later(0.01, "fill", owner_id=1)  # once started, a new request runs again
        assert worker.wait_idle(5)
        assert sorted(ran) == [1, 1, 2]
    finally:
        worker.shutdown()


def test_celery_sends_one_waiting_copy_of_a_deduplicated_task_later() -> None:
    """The mark in Redis (the real server) that ``enqueue`` sets for a deduplicated task holds
    for ``enqueue_later`` too, until a worker starts the task."""
    app = SentTasks()
    app.conf.broker_url = "redis://127.0.0.1:6379/13"
    queue = CeleryJobQueue(app, gather=1.0)  # type: ignore[arg-type]
    assert queue._redis is not None
    owner = time.monotonic_ns()  # a key of its own on a shared server
    try:
        queue.enqueue_later(2.0, "objects.detect", owner_id=owner)
        queue.enqueue_later(2.0, "objects.detect", owner_id=owner)
        queue.enqueue("objects.detect", owner_id=owner)
        assert [(n, o["countdown"]) for n, o in app.sent] == [("objects.detect", 2.0)]
        queue.started("objects.detect", {"owner_id": owner})
        queue.enqueue_later(2.0, "objects.detect", owner_id=owner)
        assert len(app.sent) == 2
    finally:
        queue.started("objects.detect", {"owner_id": owner})

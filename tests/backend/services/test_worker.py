"""The embedded worker and the task registry, with small tasks of the test's own."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.job_queue import JobQueue
from backend.services.worker.embedded import EmbeddedWorker
from backend.services.worker.tasks import TASKS, TaskSpec, build_registry, check_registry
from tests.helpers.app import make_settings


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    runtime = build_runtime(make_settings(tmp_path))
    yield runtime.ctx
    runtime.close()


def registry(**extra: TaskSpec) -> dict[str, TaskSpec]:
    return {**TASKS, **extra}


def around(ctx: AppContext) -> Callable[[JobQueue], AppContext]:
    """The test's context with the worker under test as its job queue (tasks enqueue there)."""
    return lambda jobs: dataclasses.replace(ctx, jobs=jobs)


def test_runs_tasks_and_waits_for_what_they_queue(ctx: AppContext) -> None:
    ran: list[tuple[str, int]] = []

    def child(_ctx: AppContext, n: int) -> None:
        ran.append(("child", n))

    def parent(c: AppContext, n: int) -> None:
        ran.append(("parent", n))
        c.jobs.enqueue("child", n=n)

    worker = EmbeddedWorker(
        registry(parent=TaskSpec("parent", parent, "cpu"), child=TaskSpec("child", child, "cpu")),
        around(ctx),
        threads=2,
    )
    for n in range(5):
        worker.enqueue("parent", n=n)
    assert worker.wait_idle(10)
    assert sorted(ran) == sorted(
        [("parent", n) for n in range(5)] + [("child", n) for n in range(5)]
    )
    worker.shutdown()


def test_dedupe_drops_a_waiting_copy(ctx: AppContext) -> None:
    gate = threading.Event()
    calls: list[int] = []

    def blocker(_ctx: AppContext) -> None:
        gate.wait(10)

    def grouped(_ctx: AppContext, owner: int) -> None:
        calls.append(owner)

    worker = EmbeddedWorker(
        registry(
            block=TaskSpec("block", blocker, "grouping"),
            group=TaskSpec("group", grouped, "grouping", dedupe=True),
        ),
        around(ctx),
        threads=1,
    )
    worker.enqueue("block")  # holds the single grouping thread
    for _ in range(3):
        worker.enqueue("group", owner=1)
    worker.enqueue("group", owner=2)
    gate.set()
    assert worker.wait_idle(10)
    assert sorted(calls) == [1, 2]
    worker.shutdown()


def test_a_failing_task_is_counted_not_fatal(ctx: AppContext) -> None:
    def boom(_ctx: AppContext) -> None:
        raise RuntimeError("boom")

    worker = EmbeddedWorker(registry(boom=TaskSpec("boom", boom, "cpu")), around(ctx), threads=1)
    worker.enqueue("boom")
    assert worker.wait_idle(10) and worker.errors == 1
    worker.shutdown()


def test_after_shutdown_enqueue_is_a_no_op(ctx: AppContext) -> None:
    ran: list[Any] = []
    worker = EmbeddedWorker(
        registry(t=TaskSpec("t", lambda c: ran.append(c), "cpu")), around(ctx), 1
    )
    worker.shutdown()
    worker.enqueue("t")
    assert worker.wait_idle(1) and ran == []


def test_unknown_task_and_bad_registries(ctx: AppContext) -> None:
    worker = EmbeddedWorker(TASKS, around(ctx), threads=1)
    with pytest.raises(KeyError, match="no task named"):
        worker.enqueue("nope")
    worker.shutdown()
    spec = TaskSpec("x", lambda c: None, "cpu")
    with pytest.raises(RuntimeError, match="registered twice"):
        build_registry([spec, spec])
    with pytest.raises(RuntimeError, match="no handler registered"):
        check_registry({"x": spec})
    with pytest.raises(RuntimeError, match="unknown queues: gpu"):
        EmbeddedWorker(registry(x=TaskSpec("x", lambda c: None, "gpu")), around(ctx), threads=1)


def test_gathering_groups_requests_that_arrive_close_together(ctx: AppContext) -> None:
    calls: list[int] = []

    def grouped(_ctx: AppContext, owner: int) -> None:
        calls.append(owner)

    worker = EmbeddedWorker(
        registry(group=TaskSpec("group", grouped, "grouping", dedupe=True)),
        around(ctx),
        threads=1,
        gather=0.3,
    )
    for _ in range(5):  # e.g. five analyses finishing within the gathering window
        worker.enqueue("group", owner=7)
    assert calls == []  # nothing runs before the window closes
    assert worker.wait_idle(10)
    assert calls == [7]
    worker.enqueue("group", owner=7)  # a later request gets a run of its own
    assert worker.wait_idle(10) and calls == [7, 7]
    worker.shutdown()


def _gathering(
    ctx: AppContext, analyse: Callable[..., None], group: Callable[..., None], threads: int
) -> EmbeddedWorker:
    """A worker whose "analyse" tasks send a "group" job gathered in a 30 s window."""
    return EmbeddedWorker(
        registry(
            analyse=TaskSpec("analyse", analyse, "cpu"),
            group=TaskSpec("group", group, "grouping", dedupe=True),
        ),
        around(ctx),
        threads=threads,
        gather=30.0,
    )


def test_a_gathered_job_goes_as_soon_as_nothing_else_can_join_it(ctx: AppContext) -> None:
    """The window is for analyses still running: once none is left (a scan's last image),
    the grouping runs at once instead of idling for the rest of the window."""
    events: list[str] = []

    def analyse(c: AppContext, label: str, seconds: float) -> None:
        time.sleep(seconds)
        events.append(label)
        c.jobs.enqueue("group", owner=7)

    worker = _gathering(ctx, analyse, lambda _c, owner: events.append("group"), threads=2)
    started = time.monotonic()
    worker.enqueue("analyse", label="quick", seconds=0.0)
    worker.enqueue("analyse", label="slow", seconds=0.5)
    assert worker.wait_idle(10), "the grouping waited for its whole window"
    assert time.monotonic() - started < 10
    # One run, after the slow analysis: while it ran, the window stayed open for it.
    assert events == ["quick", "slow", "group"]
    worker.shutdown()


def test_a_gathered_job_is_dropped_not_run_when_the_worker_shuts_down(ctx: AppContext) -> None:
    """Shutting down, a task in flight that finishes leaves nothing else running: the
    gathered grouping waiting for it must not start then (recovery sends it at the next
    start), or stopping would wait for a whole grouping run."""
    ran: list[str] = []
    started = threading.Event()

    def analyse(c: AppContext) -> None:
        c.jobs.enqueue("group", owner=7)
        started.set()
        time.sleep(0.5)

    worker = _gathering(ctx, analyse, lambda _c, owner: ran.append("group"), threads=1)
    worker.enqueue("analyse")
    assert started.wait(10)
    worker.shutdown(wait=True)
    assert worker.wait_idle(1) and ran == []

"""Embedded analysis in child processes (what `dupfinder serve` uses): the same tasks, their
follow-ups sent by the parent, a lower priority, and a child that dies costs only a retry."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.config import Settings
from backend.runtime import make_context
from backend.services.worker import embedded
from backend.services.worker.embedded import EmbeddedWorker
from backend.services.worker.processes import AnalysisProcesses
from backend.services.worker.tasks import TASKS, TaskSpec, build_registry
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, service

_CHILD = "tests.helpers.child_tasks"
REGISTRY = build_registry(
    list(TASKS.values())
    + [
        TaskSpec(f"test.{name}", f"{_CHILD}:{name}", queue="cpu", on_give_up=f"{__name__}:gave_up")
        for name in (
            "record",
            "send_follow_up",
            "die_once",
            "always_die",
            "locked_twice",
            "broken",
            "unpicklable",
            "outlive",
        )
    ]
)
GAVE_UP: list[tuple[str, str]] = []


def gave_up(ctx: Any, error: BaseException, marker: str) -> None:
    """Runs in the parent, as every give-up handler does."""
    GAVE_UP.append((marker, str(error)))


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[EmbeddedWorker]:
    settings: Settings = make_settings(tmp_path / "data", DUPFINDER_RETRY_BASE_SECONDS=0.01)
    processes = AnalysisProcesses(settings, REGISTRY, make_context, {"cpu": 2}, nice=5)
    running = EmbeddedWorker(
        REGISTRY, lambda jobs: make_context(settings, jobs), 2, 0.01, processes=processes
    )
    yield running
    running.shutdown(wait=True)
    assert running.processes is not None and running.processes.pids() == []


def _runs(marker: Path) -> list[int]:
    return [int(line) for line in marker.read_text().splitlines()] if marker.exists() else []


def _run(worker: EmbeddedWorker, task: str, marker: Path) -> list[int]:
    """Run one task to its end (retries included): the processes each run of it ran in."""
    worker.enqueue(task, marker=str(marker))
    assert worker.wait_idle(60)
    return _runs(marker)


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_tasks_run_in_lower_priority_children_and_their_follow_ups_are_sent(
    worker: EmbeddedWorker, tmp_path: Path
) -> None:
    marker = tmp_path / "first"
    (child,) = _run(worker, "test.send_follow_up", marker)
    assert worker.errors == 0
    assert child != os.getpid()
    assert _runs(Path(f"{marker}.next")), "the follow-up the child sent was not run"
    assert worker.processes is not None and child in worker.processes.pids()
    assert _nice(child) == _nice(os.getpid()) + 5


def test_a_child_that_dies_costs_a_retry_in_a_new_child(
    worker: EmbeddedWorker, tmp_path: Path
) -> None:
    first, second = _run(worker, "test.die_once", tmp_path / "dies")
    assert first != second  # the dead child was replaced
    assert worker.errors == 0
    assert _run(worker, "test.record", tmp_path / "after")  # the pool works on


def test_a_child_that_always_dies_gives_up_with_the_reason(
    worker: EmbeddedWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "RETRIES", 1)
    marker = tmp_path / "always"
    GAVE_UP.clear()
    assert len(_run(worker, "test.always_die", marker)) == 2  # the run and its one retry
    ((where, reason),) = GAVE_UP
    assert where == str(marker) and "the analysis process stopped" in reason
    assert worker.errors == 1


def test_a_child_that_died_while_idle_costs_the_next_task_nothing(
    worker: EmbeddedWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert worker.processes is not None
    for n in range(2):  # one task per slot: both children started
        assert _run(worker, "test.record", tmp_path / f"first-{n}")
    children = worker.processes.pids()
    assert len(children) == 2
    for child in children:
        os.kill(child, signal.SIGKILL)  # as the OOM killer would take idle processes
    time.sleep(1.0)  # their executors notice
    monkeypatch.setattr(embedded, "RETRIES", 0)  # no retry to spend
    ran_in = [_run(worker, "test.record", tmp_path / f"next-{n}") for n in range(2)]
    assert all(len(runs) == 1 and runs[0] not in children for runs in ran_in)
    assert worker.errors == 0


def test_a_child_that_dies_fails_no_task_of_its_siblings(
    worker: EmbeddedWorker, tmp_path: Path
) -> None:
    dies, lives = tmp_path / "dies", tmp_path / "lives"
    worker.enqueue("test.outlive", marker=str(lives), other=str(dies))
    worker.enqueue("test.die_once", marker=str(dies))
    assert worker.wait_idle(60)
    assert len(_runs(dies)) == 2  # the child that died: its task ran again
    assert len(_runs(lives)) == 1  # its sibling in flight was not failed, nor run twice
    assert worker.errors == 0


def test_an_exception_pickle_cannot_carry_comes_back_in_words(
    worker: EmbeddedWorker, tmp_path: Path
) -> None:
    GAVE_UP.clear()
    marker = tmp_path / "odd"
    assert len(_run(worker, "test.unpicklable", marker)) == 1  # a bug: not retried
    assert worker.errors == 1
    assert len(_run(worker, "test.record", tmp_path / "after")) == 1  # the child works on


def test_a_transient_error_in_a_child_is_retried_and_a_lasting_one_is_not(
    worker: EmbeddedWorker, tmp_path: Path
) -> None:
    locked, bad = tmp_path / "locked", tmp_path / "bad"
    worker.enqueue("test.locked_twice", marker=str(locked))
    worker.enqueue("test.broken", marker=str(bad))
    assert worker.wait_idle(60)
    assert len(_runs(locked)) == 3  # the database was locked twice, then it ran
    assert len(_runs(bad)) == 1  # a bug is not retried
    assert worker.errors == 1


def test_a_service_analysing_in_children_finds_the_same_groups(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_EMBEDDED_ANALYSIS="processes")
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "kim@example.com")
        a, b = img.jpeg(61, (480, 360)), img.jpeg(62, (480, 360))
        batch = person.upload(
            [("a.jpg", a), ("a-copy.jpg", a), ("a-small.jpg", img.resized(a)), ("b.jpg", b)]
            + [("broken.jpg", img.truncated(b))]
        )
        job = person.job(batch["job_id"])
        assert (job["state"], job["done"], job["failed"]) == ("done", 4, 1)
        assert [len(g["images"]) for g in person.groups("exact")] == [2]
        assert [len(g["images"]) for g in person.groups("near")] == [3]
        worker = runtime.embedded_worker()
        assert worker.processes is not None and worker.processes.pids()
        # Grouping ran in a child: this process never built a hash index.
        assert not runtime.ctx.hash_libraries._libraries

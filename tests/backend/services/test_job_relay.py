"""The job relay of `dupfinder serve`'s API processes: what an API process sends reaches the
worker in order, even when that process ends right after sending, and one process's end
leaves the others' pipes working."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any

from backend.services.worker.relay import JobRelay, RelayedJobQueue


class Recorder:
    """A JobQueue that records what it is sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[float | None, str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def enqueue(self, name: str, **kwargs: Any) -> None:
        with self.lock:
            self.sent.append((None, name, kwargs))

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        with self.lock:
            self.sent.append((delay, name, kwargs))

    def reachable(self) -> bool:
        return True


def _api_process(pipe: Any, supervisor: int, first: int) -> None:
    jobs = RelayedJobQueue(pipe, supervisor)
    for image_id in range(first, first + 50):
        jobs.enqueue("features.extract", image_id=image_id)
    jobs.enqueue_later(2.5, "google.poll", owner_id=first)
    # Ends at once: nothing may be left behind in a buffer of this process.


def test_jobs_of_ended_api_processes_all_reach_the_worker_in_order() -> None:
    worker = Recorder()
    relay = JobRelay(worker)
    relay.start()
    spawn = multiprocessing.get_context("spawn")
    processes = []
    for first in (0, 1000):
        pipe = relay.channel()
        process = spawn.Process(target=_api_process, args=(pipe, os.getpid(), first))
        process.start()
        pipe.close()
        processes.append(process)
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    relay.stop()
    assert not relay.is_alive()
    for first in (0, 1000):
        mine = [m for m in worker.sent if (max(m[2].values()) >= 1000) == (first == 1000)]
        expected = [(None, "features.extract", {"image_id": i}) for i in range(first, first + 50)]
        assert mine == [*expected, (2.5, "google.poll", {"owner_id": first})]


def test_a_pipe_that_ends_leaves_the_others_working() -> None:
    worker = Recorder()
    relay = JobRelay(worker)
    relay.start()
    gone, kept = relay.channel(), relay.channel()
    gone.close()  # its API process died
    RelayedJobQueue(kept, os.getpid()).enqueue("grouping.update", owner_id=7)
    deadline = time.monotonic() + 10
    while not worker.sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.sent == [(None, "grouping.update", {"owner_id": 7})]
    kept.close()
    relay.stop()
    assert not relay.is_alive()


def test_a_gone_supervisor_loses_the_job_with_a_warning_not_the_request() -> None:
    receiving, sending = multiprocessing.Pipe(duplex=False)
    receiving.close()  # the supervisor is gone
    jobs = RelayedJobQueue(sending, os.getppid())
    assert jobs.reachable()
    jobs.enqueue("features.extract", image_id=1)  # no exception reaches the request
    assert not jobs.reachable()  # /health says so; the next start's sweep finds the work

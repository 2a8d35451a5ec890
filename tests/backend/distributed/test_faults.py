"""Faults in distributed mode, on the real pieces: nothing is lost, nothing is counted twice.

A worker killed with ``kill -9`` mid-batch, Redis restarted mid-batch (every queued message
lost: it keeps nothing), PostgreSQL gone for a few seconds: each time the batch still ends
``done`` with every image analysed and grouped exactly as expected, without a manual step.
What brings the work back is the design under test: messages acknowledged late, retries with
backoff on transient faults, and the workers' sweep that re-sends work that stopped moving.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlmodel import Session, col, select

from backend.db.locks import GROUPING
from backend.models import Image, ImageState, Job
from backend.runtime import Runtime
from tests.backend.distributed.conftest import Cluster
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, names, service, token
from tests.helpers.distributed import (
    RestartablePostgres,
    eventually,
    private_redis,
    restartable_postgres,
    unfinished,
    worker,
)

FAMILIES = 50  # 4 files each: a batch of 200 images
FINISH_TIMEOUT = 60.0
DB_DOWN = {"detail": "the database is unavailable right now; please retry shortly"}

Files = list[tuple[str, bytes]]


@dataclass
class Batch:
    files: Files
    near: list[set[str]]  # the expected near groups (each family)
    exact: list[set[str]]  # the expected exact groups (each photo and its byte copy)

    def __add__(self, other: Batch) -> Batch:
        return Batch(self.files + other.files, self.near + other.near, self.exact + other.exact)


def batch(count: int, seed: int, prefix: str = "") -> Batch:
    """``families(count)`` with file names made unique to this batch by ``prefix``."""
    files, expected = img.families(count, seed)
    return Batch(
        [(prefix + name, data) for name, data in files],
        [{prefix + name for name in family} for family in expected],
        [{f"{prefix}p{n}.jpg", f"{prefix}p{n}-copy.jpg"} for n in range(count)],
    )


def progress(runtime: Runtime, job_id: int) -> tuple[str, int, int, int]:
    """The job's (state, total, done, failed), read straight from the database."""
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.state.value, job.total, job.done, job.failed


def wait_for_progress(runtime: Runtime, job_id: int, at_least: int) -> None:
    """Poll closely until ``at_least`` images of the job are analysed; the fault comes right
    after, so some must still be waiting (else the fault would hit nothing). Analysis, not the
    job's count, is watched: grouping marks images done in gathered batches."""
    deadline = time.monotonic() + FINISH_TIMEOUT
    while time.monotonic() < deadline:
        with Session(runtime.engine) as session:
            states = session.exec(select(Image.state).where(col(Image.job_id) == job_id)).all()
        waiting = sum(1 for s in states if s == ImageState.PENDING)
        if len(states) - waiting >= at_least:
            assert waiting > 0, "the batch was analysed before the fault could be injected"
            return
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not reach {at_least} analysed images")


def send(person: Person, files: Files) -> dict[str, Any]:
    response = person.send(files)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert body["rejected"] == []
    assert len(body["images"]) == len(files)
    return body


def assert_complete(person: Person, job_id: int, sent: int) -> None:
    """The job counted every image exactly once, and every image of it is analysed."""
    job: dict[str, Any] = eventually(
        lambda: (j := person.job(job_id))["state"] == "done" and j,
        FINISH_TIMEOUT,
        f"job {job_id} did not finish",
    )
    assert (job["total"], job["done"], job["failed"]) == (sent, sent, 0), job
    with Session(person.runtime.engine) as session:
        states = session.exec(select(Image.state).where(col(Image.job_id) == job_id)).all()
    assert len(states) == sent and set(states) == {ImageState.READY}


def assert_groups(person: Person, expected: Batch) -> None:
    """Exactly the expected groups: none missing, split, merged or shown twice."""
    assert unfinished(person.runtime) == 0
    for tier, groups in (("near", expected.near), ("exact", expected.exact)):
        shown = sorted((names(g) for g in person.groups(tier)), key=sorted)
        assert shown == sorted(groups, key=sorted), tier


def assert_no_task_errors(*logs: Path) -> None:
    """Faults are retried or swept; no task may fail on an error of its own meanwhile."""
    for log in logs:
        text = log.read_text(errors="replace")
        for sign in ("raised unexpected", "Unrecoverable error"):
            assert sign not in text, f"{sign!r} in {log}"


def owner_of(person: Person) -> int:
    response = person.get("/users/me")
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


@contextmanager
def grouping_held(cluster: Cluster, owner: int) -> Iterator[psycopg.Connection]:
    """Hold the owner's grouping lock (db/locks.py) from outside: grouping tasks that start
    meanwhile wait for it, in progress and unacknowledged, until the block ends."""
    url = cluster.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (GROUPING, owner))
        try:
            yield conn
        finally:  # (no-op if the test let it go already)
            conn.execute("SELECT pg_advisory_unlock_all()")


def waiting_for_lock(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_worker_killed_mid_batch_another_finishes_it(cluster: Cluster) -> None:
    work = batch(FAMILIES, seed=500)
    logs = cluster.logs / "worker-a.log", cluster.logs / "worker-b.log"
    with service(cluster.settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "kill@example.com")
        job_id = send(person, work.files)["job_id"]

        with worker(cluster.env, logs[0], concurrency=2) as a:
            wait_for_progress(runtime, job_id, at_least=20)
            a.kill()  # kill -9 of its process group: tasks in flight die unacknowledged
        _, total, done, failed = progress(runtime, job_id)
        assert done + failed < total, "worker A finished the batch before it was killed"

        with worker(cluster.env, logs[1], concurrency=2):
            assert_complete(person, job_id, len(work.files))
            assert_groups(person, work)
    assert_no_task_errors(*logs)


def test_redis_restart_mid_batch_loses_nothing(cluster: Cluster) -> None:
    """Redis goes mid-batch while both of the worker's processes are in the middle of a task
    (held on the grouping lock, so that the fault surely hits work in progress): the queued
    messages and the two unacknowledged ones are all lost, as Redis keeps nothing."""
    work = batch(FAMILIES, seed=500)
    during = batch(1, seed=900, prefix="down-")
    after = batch(1, seed=950, prefix="after-")
    log = cluster.logs / "worker.log"
    with service(cluster.settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "redis@example.com")
        job_id = send(person, work.files)["job_id"]

        with worker(cluster.env, log, concurrency=2) as w:
            wait_for_progress(runtime, job_id, at_least=20)
            with grouping_held(cluster, owner_of(person)) as lock:
                eventually(lambda: waiting_for_lock(lock) == 2, 20, "the worker was not busy")
                cluster.redis.stop()
                try:
                    # Accepted while the broker is away: the work is in the database.
                    down_job = send(person, during.files)["job_id"]
                    health = client.get("/health")
                    assert (health.status_code, health.json()["broker"]) == (200, "unavailable")
                finally:
                    cluster.redis.start()  # the same port, empty
            eventually(
                lambda: client.get("/health").json()["broker"] == "ok",
                10,
                "the API did not see the broker back",
            )
            after_job = send(person, after.files)["job_id"]  # the API reconnected by itself

            assert_complete(person, job_id, len(work.files))
            assert_complete(person, down_job, len(during.files))
            assert_complete(person, after_job, len(after.files))
            assert_groups(person, work + during + after)
            assert w.proc.poll() is None, f"the worker exited; see {log}"
    assert_no_task_errors(log)


def test_worker_with_a_task_in_flight_survives_a_redis_restart(cluster: Cluster) -> None:
    first = batch(1, seed=700)
    later = batch(1, seed=750, prefix="later-")
    log = cluster.logs / "worker.log"
    with service(cluster.settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "inflight@example.com")
        job_id = send(person, first.files[:1])["job_id"]
        owner = owner_of(person)
        with (
            grouping_held(cluster, owner) as lock,
            worker(cluster.env, log, concurrency=2) as w,
        ):
            # One task in progress; the worker's other process is free, so it is polling.
            eventually(lambda: waiting_for_lock(lock) == 1, 30, "grouping did not start")
            cluster.redis.stop()
            time.sleep(2)  # the worker sees the broker gone while its task still runs
            lock.execute("SELECT pg_advisory_unlock(%s, %s)", (GROUPING, owner))
            cluster.redis.start()
            assert_complete(person, job_id, 1)
            time.sleep(2)
            assert w.proc.poll() is None, f"the worker exited ({w.proc.returncode}); see {log}"
            later_job = send(person, later.files)["job_id"]
            assert_complete(person, later_job, len(later.files))
    assert_no_task_errors(log)


def test_sigterm_to_every_process_of_a_worker_lets_its_task_finish(cluster: Cluster) -> None:
    """systemd (KillMode=control-group), ``kill -TERM -PGID`` and some container runtimes signal
    every process of the worker at once. The pool's processes must leave the shutdown to the main
    process (a warm shutdown: the task in flight finishes), not die mid-query: a SIGTERM caught
    inside the database driver's wait made a task fail with a driver error in its log."""
    files = batch(1, seed=760).files
    log = cluster.logs / "worker.log"
    with service(cluster.settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "sigterm@example.com")
        job_id = send(person, files[:1])["job_id"]
        owner = owner_of(person)
        with grouping_held(cluster, owner) as lock, worker(cluster.env, log, concurrency=2) as w:
            # The grouping task waits inside a query (the lock), as a busy task would.
            eventually(lambda: waiting_for_lock(lock) == 1, 30, "grouping did not start")
            os.killpg(w.proc.pid, signal.SIGTERM)
            time.sleep(2)  # every process has had the signal while the task is mid-query
            lock.execute("SELECT pg_advisory_unlock(%s, %s)", (GROUPING, owner))
            assert w.proc.wait(60) == 0, f"the worker did not shut down cleanly; see {log}"
        assert_no_task_errors(log)
        assert "WorkerLostError" not in log.read_text(errors="replace")
        _, total, done, failed = progress(runtime, job_id)
        assert (total, done, failed) == (1, 1, 0), "the task in flight did not finish"


def test_upload_while_the_broker_is_down_answers_promptly(cluster: Cluster) -> None:
    files = batch(1, seed=800).files  # 4 files
    with service(cluster.settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "prompt@example.com")
        cluster.redis.stop()
        started = time.monotonic()
        send(person, files)
        elapsed = time.monotonic() - started
    assert elapsed < 3.5, f"an upload of {len(files)} files took {elapsed:.1f} s"


@contextmanager
def stoppable_database(
    tmp_path: Path,
) -> Iterator[tuple[RestartablePostgres, dict[str, str]]]:
    """A private PostgreSQL the test can stop, a private Redis, and a worker's environment."""
    with restartable_postgres() as pg, private_redis(tmp_path) as redis:
        with pg.server.connect() as admin:
            admin.execute('CREATE DATABASE "dupfinder"')
        env = {
            "DATABASE_URL": pg.server.url("dupfinder"),
            "CELERY_BROKER_URL": redis.url,
            "DUPFINDER_DATA_DIR": str(tmp_path / "data"),
            "DUPFINDER_SWEEP_SECONDS": "3",
            "DUPFINDER_VISIBILITY_TIMEOUT": "30",
            "DUPFINDER_AUTO_MIGRATE": "false",
        }
        yield pg, env


def test_database_away_for_seconds_answers_503_then_finishes(tmp_path: Path) -> None:
    work = batch(FAMILIES, seed=500)
    log = tmp_path / "worker.log"
    with stoppable_database(tmp_path) as (pg, env):
        settings = make_settings(
            tmp_path / "data",
            DATABASE_URL=env["DATABASE_URL"],
            CELERY_BROKER_URL=env["CELERY_BROKER_URL"],
            DUPFINDER_SWEEP_SECONDS=3,
            DUPFINDER_VISIBILITY_TIMEOUT=30,
        )
        with service(settings) as (client, runtime):
            person = Person.sign_up(client, runtime, "pg@example.com")
            job_id = send(person, work.files)["job_id"]

            with worker(env, log, concurrency=2) as w:
                wait_for_progress(runtime, job_id, at_least=20)
                pg.stop()
                try:
                    answers = [
                        person.get("/users/me"),
                        person.get(f"/jobs/{job_id}"),
                        person.get("/duplicates/groups"),
                        person.send(batch(1, seed=990, prefix="down-").files),
                        token(client, person.email),  # not "wrong password"
                    ]
                    for response in answers:
                        assert response.status_code == 503, response.text
                        assert response.json() == DB_DOWN
                        assert response.headers["Retry-After"] == "5"
                    health = client.get("/health")
                    assert health.status_code == 503
                    assert (health.json()["status"], health.json()["database"]) == (
                        "degraded",
                        "unavailable",
                    )
                    time.sleep(4)  # the workers' tasks fail meanwhile, and are retried
                finally:
                    pg.start()  # the same port and data directory

                assert client.get("/health").status_code == 200
                assert_complete(person, job_id, len(work.files))
                assert_groups(person, work)
                assert w.proc.poll() is None, f"the worker exited; see {log}"
    assert_no_task_errors(log)

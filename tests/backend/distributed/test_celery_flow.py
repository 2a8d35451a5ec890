"""The whole API flow against real PostgreSQL, a real Redis and a real Celery worker process."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.main import create_app
from backend.runtime import build_runtime
from tests.backend.distributed.conftest import Cluster
from tests.helpers import images as img
from tests.helpers.app import Person, names, together
from tests.helpers.distributed import eventually, worker


def test_upload_group_and_decide_through_celery(cluster: Cluster) -> None:
    runtime = build_runtime(cluster.settings)  # migrates, sends jobs to Celery
    assert runtime.worker is None
    try:
        with (
            worker(cluster.env, cluster.logs / "worker.log", concurrency=2),
            TestClient(create_app(cluster.settings, runtime)) as client,
        ):
            health = client.get("/health").json()
            assert (health["worker"], health["broker"], health["database"]) == (
                "celery",
                "ok",
                "ok",
            )
            person = Person.sign_up(client, runtime, "celery@example.com")
            batch = person.upload(img.camera_batch())  # waits until nothing is left unfinished
            job = person.job(batch["job_id"])
            assert (job["state"], job["total"], job["done"], job["failed"]) == ("done", 7, 7, 0)
            assert [names(g) for g in person.groups("exact")] == [img.EXACT_NAMES]
            assert [names(g) for g in person.groups("near")] == [img.NEAR_NAMES]

            ids = person.ids(batch)
            (exact,) = person.groups("exact")
            assert person.post(f"/duplicates/groups/{exact['id']}/dismiss").status_code == 200
            eventually(
                lambda: not together(person.groups(), ids["original.jpg"], ids["copy.jpg"]),
                30,
                "the dismissed pair was still grouped",
            )
    finally:
        runtime.close()

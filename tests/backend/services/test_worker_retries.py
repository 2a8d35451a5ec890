"""Faults that pass (a full disk, a database away a moment) are retried; lasting ones end as a
failure a person can see, so no job waits for ever."""

from __future__ import annotations

from pathlib import Path

from backend.runtime import build_runtime
from backend.services.storage.blobstore import LocalBlobStore
from tests.helpers import images as img
from tests.helpers.app import Person, make_settings, service


class FlakyDisk(LocalBlobStore):
    """The real local store on a disk that is full for the first ``failures`` writes."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put(self, key: str, data: bytes) -> None:
        if key.startswith("thumbnails/") and self.failures > 0:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        super().put(key, data)


def test_a_passing_fault_is_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_RETRY_BASE_SECONDS=0.05)
    with service(settings) as (client, runtime):
        runtime.ctx.store = FlakyDisk(settings.blob_dir, failures=2)
        person = Person.sign_up(client, runtime, "lee@example.com")
        a = img.jpeg(51)
        batch = person.upload([("a.jpg", a), ("b.jpg", a)])
        job = person.job(batch["job_id"])
        assert (job["state"], job["done"], job["failed"]) == ("done", 2, 0)
        assert len(person.groups("exact")) == 1


def test_a_lasting_fault_fails_the_image_with_a_reason(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DUPFINDER_RETRY_BASE_SECONDS=0.01)
    runtime = build_runtime(settings)
    try:
        from fastapi.testclient import TestClient

        from backend.main import create_app

        with TestClient(create_app(settings, runtime)) as client:
            runtime.ctx.store = FlakyDisk(settings.blob_dir, failures=100)
            person = Person.sign_up(client, runtime, "max@example.com")
            response = person.send([("a.jpg", img.jpeg(52))])
            assert response.status_code == 202
            assert runtime.embedded_worker().wait_idle(60)
            job = person.job(response.json()["job_id"])
            assert (job["state"], job["done"], job["failed"]) == ("done", 0, 1)
            assert "No space left on device" in job["failures"][0]["reason"]
    finally:
        runtime.close()

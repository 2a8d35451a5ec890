"""Job progress as the API reports it."""

from __future__ import annotations

from tests.helpers import images as img
from tests.helpers.app import Person


def test_job_progress(alice: Person) -> None:
    body = alice.upload([("a.jpg", img.jpeg(90)), ("cut.jpg", img.truncated(img.jpeg(91)))])
    job = alice.job(body["job_id"])
    assert job["kind"] == "upload" and job["id"] == body["job_id"]
    assert (job["state"], job["total"], job["done"], job["failed"]) == ("done", 2, 1, 1)
    assert [f["filename"] for f in job["failures"]] == ["cut.jpg"]


def test_unknown_job(alice: Person) -> None:
    response = alice.get("/jobs/31337")
    assert response.status_code == 404 and response.json() == {"detail": "job 31337 was not found"}


def test_job_id_must_be_a_number(alice: Person) -> None:
    response = alice.get("/jobs/latest")
    assert response.status_code == 422 and response.json()["detail"].startswith("job_id: ")

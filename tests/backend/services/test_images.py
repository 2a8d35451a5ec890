"""Deleting images: bytes, rows and the progress of the batch they came in."""

from __future__ import annotations

from backend.config import Settings
from tests.helpers import images as img
from tests.helpers.app import Person, service, settle


def test_deleting_a_pending_image_lets_its_job_finish(settings: Settings) -> None:
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "jay@example.com")
        runtime.worker.shutdown()  # nothing analysed yet
        body = person.send([("a.jpg", img.jpeg(1)), ("b.jpg", img.jpeg(2))]).json()
        assert person.delete(f"/images/{body['images'][1]['id']}").status_code == 204
    with service(settings) as (client, runtime):
        runtime.start()
        settle(runtime)
        job = Person.sign_in(client, runtime, "jay@example.com").job(body["job_id"])
        assert job["state"] == "done", job

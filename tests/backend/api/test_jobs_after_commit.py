"""Requests send their jobs after their transaction commits: once each, or not at all."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.api.deps import SessionDep
from backend.config import Settings
from backend.main import create_app
from backend.models import Image, User
from backend.runtime import Runtime, build_runtime
from backend.services.errors import Conflict
from backend.services.job_queue import enqueue_job
from backend.services.pipeline import DELETE_BLOBS, EXTRACT, GROUP
from tests.helpers import images as img
from tests.helpers.app import API, Person
from tests.helpers.jobs import Recorder


@pytest.fixture
def recorded(settings: Settings) -> Iterator[tuple[TestClient, Runtime, Recorder]]:
    """The real app whose job queue records what it is sent instead of running it."""
    built = build_runtime(settings)
    built.close()  # its worker is not wanted: the test looks at what is sent
    jobs = Recorder(built.engine)
    runtime = Runtime(dataclasses.replace(built.ctx, jobs=jobs))
    # No web UI mounted at "/": it would shadow the test's own route, added after it.
    app = create_app(settings.model_copy(update={"frontend_dir": None}), runtime)

    @app.post(f"{API}/test/fails-after-queuing", status_code=201)
    def fails_after_queuing(session: SessionDep) -> None:
        session.add(User(email="ghost@example.com", hashed_password="!"))
        session.flush()
        enqueue_job(session, GROUP, owner_id=1)
        raise Conflict("this request fails after it queued a job")

    with TestClient(app) as client:
        yield client, runtime, jobs
    built.engine.dispose()


def test_an_upload_sends_one_analysis_per_image_after_its_commit(
    recorded: tuple[TestClient, Runtime, Recorder],
) -> None:
    client, runtime, jobs = recorded
    person = Person.sign_up(client, runtime, "a@example.com")
    response = person.send([("a.jpg", img.jpeg(1)), ("b.jpg", img.jpeg(2))])
    assert response.status_code == 202, response.text
    ids = [i["id"] for i in response.json()["images"]]
    assert jobs.sent == [(EXTRACT, {"image_id": i}) for i in ids]
    assert jobs.visible == [True, True]  # each row was committed before its job went out


def test_a_request_that_fails_after_queuing_sends_nothing_and_stores_nothing(
    recorded: tuple[TestClient, Runtime, Recorder],
) -> None:
    client, runtime, jobs = recorded
    response = client.post(f"{API}/test/fails-after-queuing")
    assert response.status_code == 409
    assert response.json() == {"detail": "this request fails after it queued a job"}
    assert jobs.sent == []
    with Session(runtime.engine) as session:
        assert session.exec(select(User).where(User.email == "ghost@example.com")).all() == []


def test_a_deletion_sends_regrouping_and_blob_cleanup_once(
    recorded: tuple[TestClient, Runtime, Recorder],
) -> None:
    client, runtime, jobs = recorded
    person = Person.sign_up(client, runtime, "b@example.com")
    (image,) = person.send([("a.jpg", img.jpeg(3))]).json()["images"]
    with Session(runtime.engine) as session:
        row = session.get(Image, image["id"])
        assert row is not None
        owner, key = row.owner_id, row.storage_key
    jobs.sent.clear()
    assert person.delete(f"/images/{image['id']}").status_code == 204
    assert jobs.sent == [
        (GROUP, {"owner_id": owner}),
        (DELETE_BLOBS, {"keys": [key]}),
    ]
    assert person.delete(f"/images/{image['id']}").status_code == 404
    assert len(jobs.sent) == 2  # a failed request sends nothing

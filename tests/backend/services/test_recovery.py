"""After a stop, what was left unfinished is found by a query and done exactly once."""

from __future__ import annotations

from sqlmodel import Session, select

from backend.config import Settings
from backend.models import Image, ImagePair, ImageState, Job
from backend.runtime import build_runtime
from backend.services.features.extract import extract_image_features
from backend.services.worker.recovery import resume_unfinished
from tests.helpers import images as img
from tests.helpers.app import Person, names, service, settle


def states(settings: Settings) -> dict[str, ImageState]:
    runtime = build_runtime(settings)
    try:
        with Session(runtime.engine) as session:
            return {i.filename: i.state for i in session.exec(select(Image))}
    finally:
        runtime.close()


def test_pending_uploads_are_analysed_after_a_restart(settings: Settings) -> None:
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "gus@example.com")
        runtime.worker.shutdown()  # the process stops before its worker ran anything
        response = person.send(img.camera_batch())
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        assert person.job(job_id)["state"] == "queued"
    assert set(states(settings).values()) == {ImageState.PENDING}

    with service(settings) as (client, runtime):
        runtime.start()
        settle(runtime)
        person = Person.sign_in(client, runtime, "gus@example.com")
        job = person.job(job_id)
        assert (job["state"], job["total"], job["done"], job["failed"]) == ("done", 7, 7, 0)
        assert [names(g) for g in person.groups("exact")] == [img.EXACT_NAMES]
        assert [names(g) for g in person.groups("near")] == [img.NEAR_NAMES]

        # Starting again finds nothing left to do and counts nothing twice.
        assert resume_unfinished(runtime.ctx) == 0
        runtime.start()
        settle(runtime)
        assert person.job(job_id)["done"] == 7
        with Session(runtime.engine) as session:
            assert len(session.exec(select(ImagePair)).all()) == 15  # 6 copies: 6·5/2 pairs
    assert set(states(settings).values()) == {ImageState.READY}


def test_analysed_but_ungrouped_images_are_grouped_after_a_restart(settings: Settings) -> None:
    original = img.jpeg(61)
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "hana@example.com")
        runtime.worker.shutdown()
        body = person.send([("a.jpg", original), ("b.jpg", img.resized(original))]).json()
        for image in body["images"]:  # analysed, then the process stops before grouping
            extract_image_features(runtime.ctx, image["id"])
    assert set(states(settings).values()) == {ImageState.ANALYSED}

    runtime = build_runtime(settings)
    try:
        runtime.start()
        settle(runtime)
        with Session(runtime.engine) as session:
            job = session.get(Job, body["job_id"])
            assert job is not None and (job.state, job.done, job.failed) == ("done", 2, 0)
    finally:
        runtime.close()
    assert set(states(settings).values()) == {ImageState.READY}


def test_analysing_twice_counts_once(settings: Settings) -> None:
    with service(settings) as (client, runtime):
        person = Person.sign_up(client, runtime, "ivan@example.com")
        runtime.worker.shutdown()
        body = person.send([("cut.jpg", img.truncated(img.jpeg(62))), ("ok.jpg", img.jpeg(63))])
        body = body.json()
        for _ in range(2):  # e.g. a task delivered twice after a crash
            for image in body["images"]:
                extract_image_features(runtime.ctx, image["id"])
        with Session(runtime.engine) as session:
            job = session.get(Job, body["job_id"])
            assert job is not None and (job.failed, job.done) == (1, 0)
            cut = session.get(Image, body["images"][0]["id"])
            assert cut is not None and cut.state == ImageState.FAILED

"""Storing object tags: a detector that cannot run decodes nothing and ends the fill (instead of
decoding the whole library batch by batch for nothing); two runs on one image store it once."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from backend.ml.yolo import Detection, YoloDetector
from backend.models import Image, ImageObject, ImageState, IngestionMode
from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.features import detect_objects
from backend.services.features.extract import extract_image_features
from backend.services.grouping.task import update_owner_groups
from backend.services.ingestion.upload import IncomingFile, ingest_upload
from backend.services.pipeline import DETECT
from tests.helpers import images as img
from tests.helpers import photos
from tests.helpers.app import make_settings
from tests.helpers.jobs import Recorder, new_owner
from tests.helpers.postgres import temporary_database


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    runtime = build_runtime(make_settings(tmp_path / "data"))
    runtime.close()  # its database and store only: the test runs the tasks itself
    yield dataclasses.replace(runtime.ctx, jobs=Recorder())
    runtime.engine.dispose()


def test_a_detector_that_cannot_load_decodes_nothing_and_ends_the_fill(
    ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = new_owner(ctx)
    files = [IncomingFile(f"{n}.jpg", img.jpeg(300 + n, (96, 72))) for n in range(3)]
    with ctx.session(write=True) as session:
        result = ingest_upload(session, ctx.store, ctx.settings.decode_limits, owner, files)
        ids = [i.id for i in result.images if i.id is not None]
    for image_id in ids:
        extract_image_features(ctx, image_id)
    update_owner_groups(ctx, owner)
    with Session(ctx.engine) as session:
        ready = session.exec(select(Image.id).where(Image.state == ImageState.READY)).all()
        assert sorted(ready) == sorted(ids)

    # The detector is configured, but its files are not where it looks (a broken install).
    broken = YoloDetector(folder=tmp_path / "nowhere")
    ctx = dataclasses.replace(ctx, ml=dataclasses.replace(ctx.ml, detector=broken))
    decoded: list[Any] = []
    real = detect_objects.decode_reduced

    def counting(*args: Any, **kwargs: Any) -> Any:
        decoded.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(detect_objects, "decode_reduced", counting)
    monkeypatch.setattr(detect_objects, "BATCH", 2)  # a full batch: a working fill goes on
    jobs = ctx.jobs
    assert isinstance(jobs, Recorder)
    jobs.sent.clear()

    detect_objects.fill_tags(ctx, owner)
    assert decoded == [] and jobs.sent == []
    assert detect_objects.detect(ctx, owner, ids) is None
    with Session(ctx.engine) as session:
        assert (
            session.exec(select(Image.id).where(col(Image.objects_model).is_not(None))).all() == []
        )


def test_tags_wait_until_none_of_the_owners_photos_is_on_its_way(ctx: AppContext) -> None:
    """While some of the person's photos are still being analysed, the fill looks again later
    instead of taking the model queue and the cores from them; then it tags what is grouped."""
    owner = new_owner(ctx)
    files = [
        IncomingFile("bus.jpg", photos.yolo_sample("bus.jpg")),
        IncomingFile("zidane.jpg", photos.yolo_sample("zidane.jpg")),
    ]
    with ctx.session(write=True) as session:
        result = ingest_upload(session, ctx.store, ctx.settings.decode_limits, owner, files)
        bus, zidane = (i.id for i in result.images)
    assert bus is not None and zidane is not None
    extract_image_features(ctx, bus)
    update_owner_groups(ctx, owner)  # the bus is grouped; zidane is still pending
    ctx = dataclasses.replace(ctx, ml=dataclasses.replace(ctx.ml, detector=YoloDetector()))
    jobs = ctx.jobs
    assert isinstance(jobs, Recorder)

    detect_objects.fill_tags(ctx, owner)
    assert jobs.later == [(detect_objects.TAGS_WAIT, DETECT, {"owner_id": owner})]
    detect_objects.fill_tags(ctx, owner, after=bus)  # a later batch's run keeps its place
    assert jobs.later[-1] == (detect_objects.TAGS_WAIT, DETECT, {"owner_id": owner, "after": bus})
    with Session(ctx.engine) as session:
        assert session.exec(select(ImageObject)).all() == []

    extract_image_features(ctx, zidane)
    update_owner_groups(ctx, owner)  # nothing is on its way now
    jobs.later.clear()
    detect_objects.fill_tags(ctx, owner)
    assert jobs.later == []
    with Session(ctx.engine) as session:
        labels = {
            (o.image_id, o.label) for o in session.exec(select(ImageObject)).all() if o.confidence
        }
    assert (bus, "bus") in labels and (zidane, "person") in labels


def test_two_runs_storing_one_images_objects_at_once_store_them_once(tmp_path: Path) -> None:
    """The people check (before grouping) and the tags fill (the model queue) may detect one
    image at the same time on PostgreSQL: the second to store waits, then stores nothing."""
    with temporary_database() as url:
        runtime = build_runtime(make_settings(tmp_path / "data", DATABASE_URL=url))
        runtime.close()  # its database only
        ctx = runtime.ctx
        try:
            owner = new_owner(ctx)
            with ctx.session(write=True) as session:
                image = Image(
                    owner_id=owner, source=IngestionMode.UPLOAD, filename="bus.jpg", storage_key="k"
                )
                session.add(image)
                session.flush()
                assert image.id is not None
                image_id = image.id
            found = {image_id: [Detection("bus", 0.9, (0.1, 0.1, 0.9, 0.9))]}
            first_stored, second_done = threading.Event(), threading.Event()

            def second() -> None:
                first_stored.wait(10)
                with ctx.session(write=True) as session:
                    detect_objects.store_objects(session, owner, "yolo@1", found)
                second_done.set()

            other = threading.Thread(target=second)
            other.start()
            with ctx.session(write=True) as session:
                detect_objects.store_objects(session, owner, "yolo@1", found)
                first_stored.set()
                # The second run waits for this transaction (its rows are not visible yet).
                assert not second_done.wait(1.0)
            other.join(10)
            assert second_done.is_set()
            with Session(ctx.engine) as session:
                rows = session.exec(select(ImageObject.label)).all()
            assert rows == ["bus"]
        finally:
            runtime.engine.dispose()

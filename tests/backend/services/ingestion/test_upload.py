"""Upload ingestion as a service: checked, stored once, queued after commit (no HTTP)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from backend.models import Image, ImageState, IngestionMode, Job, JobState
from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.ingestion.upload import IncomingFile, ingest_upload
from backend.services.pipeline import EXTRACT
from backend.services.storage.blobstore import content_key
from tests.helpers import images as img
from tests.helpers.app import make_settings
from tests.helpers.jobs import Recorder, new_owner


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    runtime = build_runtime(make_settings(tmp_path))
    runtime.close()
    yield dataclasses.replace(runtime.ctx, jobs=Recorder(runtime.engine))
    runtime.engine.dispose()


def test_good_files_are_stored_once_and_queued_bad_ones_get_reasons(ctx: AppContext) -> None:
    owner = new_owner(ctx)
    photo = img.jpeg(5)
    files = [
        IncomingFile("a.jpg", photo),
        IncomingFile("a-again.jpg", photo),  # the same bytes: one blob, two images
        IncomingFile("notes.jpg", b"not a picture at all"),
        IncomingFile("big.jpg", None),  # over the size limit, not read beyond it
        IncomingFile("../x.jpg", img.jpeg(6)),
    ]
    with ctx.session(write=True) as session:
        result = ingest_upload(session, ctx.store, ctx.settings.decode_limits, owner, files)
        assert result.job.total == 2
    assert [i.filename for i in result.images] == ["a.jpg", "a-again.jpg"]
    reasons = dict(result.rejected)
    assert "not an image" in reasons["notes.jpg"]
    assert "over the limit" in reasons["big.jpg"]
    assert "contains a path" in reasons["../x.jpg"]

    key = content_key(owner, hashlib.sha256(photo).hexdigest())
    with Session(ctx.engine) as session:
        rows = session.exec(select(Image).order_by(Image.id)).all()
    assert [r.storage_key for r in rows] == [key, key]
    assert ctx.store.get(key) == photo
    assert all(r.source == IngestionMode.UPLOAD and r.state == ImageState.PENDING for r in rows)
    jobs = ctx.jobs
    assert isinstance(jobs, Recorder)
    assert jobs.sent == [(EXTRACT, {"image_id": r.id}) for r in rows]
    assert jobs.visible == [True, True]


def test_a_batch_of_only_bad_files_is_a_finished_job(ctx: AppContext) -> None:
    owner = new_owner(ctx)
    with ctx.session(write=True) as session:
        result = ingest_upload(
            session, ctx.store, ctx.settings.decode_limits, owner, [IncomingFile("", b"x")]
        )
    assert result.images == [] and result.rejected == [("(no name)", "the file has no name")]
    with Session(ctx.engine) as session:
        job = session.get(Job, result.job.id)
        assert job is not None and job.state == JobState.DONE and job.total == 0
    assert isinstance(ctx.jobs, Recorder) and ctx.jobs.sent == []

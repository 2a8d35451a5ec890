"""Jobs are sent after the transaction that queued them commits, never when it fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, select

from backend.models import Image, ImageState
from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.features.extract import extract_image_features
from backend.services.ingestion.upload import IncomingFile, ingest_upload
from backend.services.job_queue import bind_jobs, enqueue_job
from backend.services.pipeline import EXTRACT, GROUP
from tests.helpers import images as img
from tests.helpers.app import make_settings
from tests.helpers.jobs import Recorder, new_owner


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    runtime = build_runtime(make_settings(tmp_path))
    runtime.close()  # its migrated database and store only: the test runs the tasks itself
    yield dataclasses.replace(runtime.ctx, jobs=Recorder(runtime.engine))
    runtime.engine.dispose()


def recorder(ctx: AppContext) -> Recorder:
    assert isinstance(ctx.jobs, Recorder)
    return ctx.jobs


def upload(ctx: AppContext, session: Session, owner: int, n: int) -> list[int]:
    files = (IncomingFile(f"p{i}.jpg", img.jpeg(i)) for i in range(n))
    result = ingest_upload(session, ctx.store, ctx.settings.decode_limits, owner, files)
    return [i.id for i in result.images if i.id is not None]


def test_committed_jobs_are_sent_once_each_after_the_commit(ctx: AppContext) -> None:
    owner = new_owner(ctx)
    with ctx.session(write=True) as session:
        ids = upload(ctx, session, owner, 3)
        assert recorder(ctx).sent == []  # queued, not sent, while the transaction is open
    assert recorder(ctx).sent == [(EXTRACT, {"image_id": i}) for i in ids]
    # Each row was committed before its job went out: a worker will find it.
    assert recorder(ctx).visible == [True, True, True]
    with ctx.session(write=True) as session:
        session.execute(sa.select(1))  # a later commit of the same kind sends nothing again
    assert len(recorder(ctx).sent) == 3


def test_a_transaction_that_fails_after_queuing_sends_nothing(ctx: AppContext) -> None:
    owner = new_owner(ctx)
    with pytest.raises(RuntimeError, match="after queuing"), ctx.session(write=True) as session:
        upload(ctx, session, owner, 2)
        enqueue_job(session, GROUP, owner_id=owner)
        raise RuntimeError("fails after queuing")
    assert recorder(ctx).sent == []
    with Session(ctx.engine) as session:
        assert session.exec(select(Image)).all() == []  # and nothing was stored


def test_a_session_closed_without_commit_drops_its_jobs(ctx: AppContext) -> None:
    queue = Recorder()
    with Session(ctx.engine) as session:
        bind_jobs(session, queue)
        enqueue_job(session, GROUP, owner_id=1)
    assert queue.sent == []
    with Session(ctx.engine) as session:
        bind_jobs(session, queue)
        enqueue_job(session, GROUP, owner_id=1)
        session.rollback()
        session.commit()  # a new, empty transaction: the dropped job stays dropped
    assert queue.sent == []


def test_every_commit_sends_what_was_queued_before_it(ctx: AppContext) -> None:
    queue = Recorder()
    with Session(ctx.engine) as session:
        bind_jobs(session, queue)
        enqueue_job(session, GROUP, owner_id=1)
        session.commit()
        enqueue_job(session, GROUP, owner_id=2)
        session.commit()
    assert queue.sent == [(GROUP, {"owner_id": 1}), (GROUP, {"owner_id": 2})]


def test_a_savepoint_released_sends_nothing_until_the_commit(ctx: AppContext) -> None:
    queue = Recorder()
    with Session(ctx.engine) as session:
        bind_jobs(session, queue)
        with session.begin_nested():
            enqueue_job(session, GROUP, owner_id=1)
        assert queue.sent == []  # only a SAVEPOINT was released
        with session.begin_nested():
            enqueue_job(session, GROUP, owner_id=2)
        session.rollback()  # the outer transaction fails: neither job goes out
        assert queue.sent == []
        enqueue_job(session, GROUP, owner_id=3)
        savepoint = session.begin_nested()
        enqueue_job(session, GROUP, owner_id=4)
        savepoint.rollback()  # only the savepoint's writes are undone, and only its job
        with session.begin_nested():
            enqueue_job(session, GROUP, owner_id=5)
        session.commit()
    assert queue.sent == [(GROUP, {"owner_id": 3}), (GROUP, {"owner_id": 5})]


def test_queuing_needs_a_session_bound_to_a_queue(ctx: AppContext) -> None:
    with Session(ctx.engine) as session, pytest.raises(RuntimeError, match="no job queue"):
        enqueue_job(session, GROUP, owner_id=1)
    with Session(ctx.engine) as session:
        bind_jobs(session, Recorder())
        with pytest.raises(RuntimeError, match="already"):
            bind_jobs(session, Recorder())


def test_a_task_that_fails_sends_none_of_its_follow_ups(ctx: AppContext) -> None:
    owner = new_owner(ctx)
    with ctx.session(write=True) as session:
        (image_id,) = upload(ctx, session, owner, 1)
    recorder(ctx).sent.clear()

    def fail_commit(_conn: sa.Connection) -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(ctx.engine, "commit", fail_commit)
    try:
        with pytest.raises(sa.exc.OperationalError):
            extract_image_features(ctx, image_id)
    finally:
        event.remove(ctx.engine, "commit", fail_commit)
    assert recorder(ctx).sent == []  # grouping was queued, but the analysis never committed
    with Session(ctx.engine) as session:
        image = session.get(Image, image_id)
        assert image is not None and image.state == ImageState.PENDING

    extract_image_features(ctx, image_id)  # the retry commits, and sends the next step once
    assert recorder(ctx).sent == [(GROUP, {"owner_id": owner})]

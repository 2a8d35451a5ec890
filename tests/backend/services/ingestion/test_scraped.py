"""Scraped items as a service: rows and jobs after commit, the fetch task, recovery."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from backend.models import Image, ImageState, IngestionMode, Job, JobState
from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.fetching.safe_fetch import policy_from
from backend.services.ingestion.scraped import (
    ScrapedItem,
    fetch_scraped_image,
    give_up_on_fetch,
    ingest_scraped,
)
from backend.services.pipeline import EXTRACT, FETCH
from backend.services.worker.recovery import resume_unfinished
from tests.helpers import images as img
from tests.helpers.app import make_settings
from tests.helpers.jobs import Recorder, new_owner
from tests.helpers.photo_host import PhotoHost, photo_host

PHOTO = img.jpeg(8)


@pytest.fixture
def host() -> Iterator[PhotoHost]:
    with photo_host() as h:
        yield h


@pytest.fixture
def ctx(tmp_path: Path, host: PhotoHost) -> Iterator[AppContext]:
    runtime = build_runtime(make_settings(tmp_path, DUPFINDER_FETCH_TEST_ORIGINS=[host.origin]))
    runtime.close()
    yield dataclasses.replace(runtime.ctx, jobs=Recorder(runtime.engine))
    runtime.engine.dispose()


def send(ctx: AppContext, owner: int, items: list[ScrapedItem]) -> list[int]:
    with ctx.session(write=True) as session:
        result = ingest_scraped(
            session, ctx.store, ctx.settings.decode_limits, policy_from(ctx.settings), owner, items
        )
    return [a.image_id for a in result.accepted]


def image(ctx: AppContext, image_id: int) -> Image:
    with Session(ctx.engine) as session:
        row = session.get(Image, image_id)
        assert row is not None
        return row


def test_fetch_jobs_leave_after_commit_and_run_once(ctx: AppContext, host: PhotoHost) -> None:
    owner = new_owner(ctx)
    urls = [host.add(f"/p{n}=d", PHOTO) for n in range(3)]
    ids = send(ctx, owner, [ScrapedItem(f"AF1Qip{n}", url=u) for n, u in enumerate(urls)])
    recorder = ctx.jobs
    assert isinstance(recorder, Recorder)
    assert recorder.sent == [(FETCH, {"image_id": i}) for i in ids]
    assert recorder.visible == [True, True, True]  # sent once the rows were committed
    row = image(ctx, ids[0])
    assert (row.state, row.storage_key, row.fetch_url) == (ImageState.FETCHING, "", urls[0])
    assert row.source == IngestionMode.SCRAPE and row.source_id == "AF1Qip0"

    recorder.sent.clear()
    fetch_scraped_image(ctx, ids[0])
    row = image(ctx, ids[0])
    assert row.state == ImageState.PENDING and row.fetch_url is None
    assert ctx.store.get(row.storage_key) == PHOTO and row.size_bytes == len(PHOTO)
    assert recorder.sent == [(EXTRACT, {"image_id": ids[0]})]
    # Delivered again: nothing downloaded, the image is sent on from where it is.
    fetch_scraped_image(ctx, ids[0])
    assert host.requests.count("/p0=d") == 1
    assert recorder.sent == [(EXTRACT, {"image_id": ids[0]})] * 2

    # Recovery (start-up, or the sweep of a lost message) sends the fetches still owed.
    recorder.sent.clear()
    resume_unfinished(ctx)
    assert (FETCH, {"image_id": ids[1]}) in recorder.sent
    assert (FETCH, {"image_id": ids[0]}) not in recorder.sent


def test_nothing_is_sent_when_the_transaction_rolls_back(ctx: AppContext, host: PhotoHost) -> None:
    owner = new_owner(ctx)
    with pytest.raises(RuntimeError), ctx.session(write=True) as session:
        ingest_scraped(
            session,
            ctx.store,
            ctx.settings.decode_limits,
            policy_from(ctx.settings),
            owner,
            [ScrapedItem("AF1QipX", url=host.add("/x=d", PHOTO))],
        )
        raise RuntimeError("the request failed after the rows were flushed")
    assert isinstance(ctx.jobs, Recorder) and ctx.jobs.sent == []


def test_refused_and_given_up_fetches_fail_with_reasons(ctx: AppContext, host: PhotoHost) -> None:
    owner = new_owner(ctx)
    host.add("/page", b"<html></html>", "text/html")
    refused, unreachable = send(
        ctx,
        owner,
        [
            ScrapedItem("AF1QipH", url=host.origin + "/page"),
            ScrapedItem("AF1QipU", url=host.add("/u=d", PHOTO)),
        ],
    )
    fetch_scraped_image(ctx, refused)
    row = image(ctx, refused)
    assert row.state == ImageState.FAILED and row.error is not None
    assert row.error.startswith("the photo was not downloaded: the answer is text/html")
    give_up_on_fetch(ctx, ConnectionRefusedError("refused"), unreachable)
    row = image(ctx, unreachable)
    assert row.state == ImageState.FAILED and "could not be downloaded" in (row.error or "")
    with Session(ctx.engine) as session:
        job = session.get(Job, row.job_id)
        assert job is not None and (job.state, job.failed) == (JobState.DONE, 2)

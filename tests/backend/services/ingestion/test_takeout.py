"""Takeout import as a service: a two-part export (zip + tgz) with every sidecar quirk, album
copies merged into one image, trashed items and videos skipped, and a re-import that adds
nothing."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from backend.models import Image, ImageState, IngestionMode, Job, JobState
from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.ingestion.takeout import (
    NESTED_REASON,
    TAKEOUT_IMPORT,
    TRASHED_REASON,
    import_takeout,
    new_takeout_job,
    queue_takeout,
    resume_takeout_imports,
    run_takeout_import,
)
from backend.services.pipeline import EXTRACT
from tests.backend.core.test_decode_heic import heic
from tests.helpers import images as img
from tests.helpers.app import make_settings
from tests.helpers.jobs import Recorder, new_owner
from tests.helpers.takeout import (
    album_metadata,
    make_tgz,
    make_zip,
    real_photo,
    sidecar,
)

Y = "Takeout/Google Photos/Photos from 2019"
ROME = "Takeout/Google Photos/Trip to Rome"
FAMILY = "Takeout/Google Photos/Family"
LONG = "PXL_20190917_101112345.PORTRAIT.ORIGINAL_IMAGE_01.jpg"  # clipped in its sidecar's name
CLIPPED = "PXL_20190917_101112345.PORTRAIT.ORIGINAL_IM.jpg"  # and in the archive: 47 characters
URL = "https://photos.google.com/photo/AF1Qip{}"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    """One database for the module (migrations take seconds); each test its own person."""
    runtime = build_runtime(make_settings(tmp_path_factory.mktemp("data")))
    runtime.close()
    yield runtime.ctx
    runtime.engine.dispose()


@pytest.fixture
def ctx(shared: AppContext) -> AppContext:
    return dataclasses.replace(shared, jobs=Recorder(shared.engine))


def export(tmp_path: Path) -> list[Path]:
    """Two parts of one export: most sidecars in the first, some in the second (as Google
    splits them), an album in each."""
    no_sidecar = img.jpeg(8)
    part1 = {
        f"{Y}/IMG_0001.jpg": real_photo(0),
        f"{Y}/IMG_0001.jpg.supplemental-metadata.json": sidecar(
            "IMG_0001.jpg", 1_560_000_000, URL.format(1), 41.9, 12.5, "Rome, day 2"
        ),
        f"{Y}/IMG_0001-edited.jpg": img.brightened(real_photo(0)),  # shares IMG_0001's sidecar
        f"{Y}/IMG_0002.jpg": real_photo(1),  # its sidecar is in the second part
        f"{Y}/IMG_0003.jpg": real_photo(2),
        f"{Y}/IMG_0003.jpg.supp.json": sidecar("IMG_0003.jpg", 1_500_000_000, URL.format(3)),
        f"{Y}/IMG_0003(1).jpg": real_photo(3),
        f"{Y}/IMG_0003.jpg(1).json": sidecar("IMG_0003.jpg", 1_500_000_100, URL.format(31)),
        f"{Y}/{CLIPPED}": real_photo(4),
        f"{Y}/{LONG[:46]}.json": sidecar(LONG, 1_568_000_000, URL.format(5)),
        f"{Y}/IMG_0009.HEIC": heic(img.photo(9)),
        f"{Y}/IMG_0009.HEIC.supplemental-metadata.json": sidecar(
            "IMG_0009.HEIC", url=URL.format(9)
        ),
        f"{Y}/IMG_0006.MOV": b"\x00\x00\x00\x14ftypqt  live photo half",
        f"{Y}/IMG_0007.jpg": img.jpeg(7),
        f"{Y}/IMG_0007.jpg.json": sidecar("IMG_0007.jpg", url=URL.format(7), trashed=True),
        f"{Y}/old-backup.zip": b"PK\x05\x06" + bytes(18),
        f"{Y}/no_sidecar.jpg": no_sidecar,
        "Takeout/archive_browser.html": b"<html></html>",
        "Takeout/Google Drive/scan.jpg": img.jpeg(10),  # another product: not ours to import
    }
    part2 = {
        f"{Y}/IMG_0002.jpg.json": sidecar("IMG_0002.jpg", 1_570_000_000, URL.format(2)),
        f"{ROME}/metadata.json": album_metadata("Trip to Rome"),
        f"{ROME}/IMG_0001.jpg": real_photo(0),
        f"{ROME}/IMG_0001.jpg.supplemental-metadata.json": sidecar(
            "IMG_0001.jpg", 1_560_000_000, URL.format(1), 41.9, 12.5, "Rome, day 2"
        ),
        f"{ROME}/no_sidecar.jpg": no_sidecar,
        f"{FAMILY}/IMG_0002.jpg": real_photo(1),
        f"{FAMILY}/IMG_0002.jpg.s.json": sidecar("IMG_0002.jpg", 1_570_000_000, URL.format(2)),
    }
    return [
        make_zip(tmp_path / "takeout-20240101T000000Z-001.zip", part1),
        make_tgz(tmp_path / "takeout-20240101T000000Z-002.tgz", part2),
    ]


def run(ctx: AppContext, owner: int, paths: list[Path]) -> tuple[int, object]:
    with ctx.session(write=True) as session:
        job_id = new_takeout_job(session, owner).id
    assert job_id is not None
    return job_id, import_takeout(ctx, job_id, paths)


def rows(ctx: AppContext, owner: int) -> dict[str, Image]:
    with Session(ctx.engine) as session:
        return {i.filename: i for i in session.exec(select(Image).where(Image.owner_id == owner))}


def test_a_two_part_export_becomes_one_image_per_google_item(
    ctx: AppContext, tmp_path: Path
) -> None:
    owner = new_owner(ctx, "p125@example.com")
    paths = export(tmp_path)
    job_id, report = run(ctx, owner, paths)

    images = rows(ctx, owner)
    assert sorted(images) == sorted(
        [
            "IMG_0001.jpg",
            "IMG_0001-edited.jpg",
            "IMG_0002.jpg",
            "IMG_0003.jpg",
            "IMG_0003(1).jpg",
            LONG,
            "IMG_0009.HEIC",
            "no_sidecar.jpg",
        ]
    )
    assert all(
        i.source == IngestionMode.TAKEOUT and i.state == ImageState.PENDING for i in images.values()
    )
    first = images["IMG_0001.jpg"]
    assert first.source_id == URL.format(1) and first.source_url == URL.format(1)
    assert first.taken_at == datetime(2019, 6, 8, 13, 20)  # photoTakenTime, UTC
    assert (first.latitude, first.longitude) == (41.9, 12.5)
    assert first.description == "Rome, day 2"
    assert first.albums == ["Trip to Rome"]  # from the album's metadata.json
    edited = images["IMG_0001-edited.jpg"]
    assert edited.source_id == URL.format(1) + "#edited"
    assert edited.taken_at == first.taken_at  # the original's sidecar
    second = images["IMG_0002.jpg"]  # sidecar from the other part
    assert second.source_url == URL.format(2) and second.albums == ["Family"]
    assert second.taken_at == datetime(2019, 10, 2, 7, 6, 40)
    assert images["IMG_0003(1).jpg"].source_url == URL.format(31)
    assert images["IMG_0003.jpg"].source_url == URL.format(3)
    assert images[LONG].source_url == URL.format(5)
    assert images["IMG_0009.HEIC"].source_url == URL.format(9)
    plain = images["no_sidecar.jpg"]
    assert plain.source_id is not None and plain.source_id.startswith("sha256:")
    assert plain.albums == ["Trip to Rome"] and plain.taken_at is None

    skipped = dict(report.skipped)  # type: ignore[attr-defined]
    assert skipped == {
        f"{Y}/IMG_0006.MOV": "videos are not analysed",
        f"{Y}/IMG_0007.jpg": TRASHED_REASON,
        f"{Y}/old-backup.zip": NESTED_REASON,
    }
    assert report.ignored == 2  # type: ignore[attr-defined]
    with Session(ctx.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.total, job.done, job.state) == (9, 1, JobState.RUNNING)  # 8 + the reading
        assert job.message == (
            "8 photo(s): 8 new, 0 imported before; 3 file(s) skipped; "
            "2 file(s) outside Google Photos ignored"
        )
        assert {s["name"]: s["reason"] for s in job.skipped} == skipped
    recorder = ctx.jobs
    assert isinstance(recorder, Recorder)
    assert sorted(k["image_id"] for n, k in recorder.sent if n == EXTRACT) == sorted(
        i.id for i in images.values()
    )
    assert all(recorder.visible)

    # Again: nothing new, nothing sent, the job says so.
    sent = len(recorder.sent)
    job_id, again = run(ctx, owner, paths)
    assert rows(ctx, owner).keys() == images.keys()
    assert len(recorder.sent) == sent
    assert (again.new, again.known) == (0, 8)  # type: ignore[attr-defined]
    with Session(ctx.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == JobState.DONE and (job.total, job.done) == (1, 1)


def test_a_later_export_adds_album_names_and_new_photos_only(
    ctx: AppContext, tmp_path: Path
) -> None:
    owner = new_owner(ctx, "p202@example.com")
    first = make_zip(
        tmp_path / "a.zip",
        {
            f"{Y}/IMG_0001.jpg": real_photo(0),
            f"{Y}/IMG_0001.jpg.json": sidecar("IMG_0001.jpg", url=URL.format(1)),
        },
    )
    run(ctx, owner, [first])
    later = make_tgz(
        tmp_path / "b.tar.gz",
        {
            "Takeout/Google Fotos/Urlaub/IMG_0001.jpg": real_photo(0),
            "Takeout/Google Fotos/Urlaub/IMG_0001.jpg.supplemental-metadata.json": sidecar(
                "IMG_0001.jpg", url=URL.format(1)
            ),
            "Takeout/Google Fotos/Fotos von 2020/IMG_0002.jpg": real_photo(1),
        },
    )
    _, report = run(ctx, owner, [later])
    assert (report.new, report.known) == (1, 1)  # type: ignore[attr-defined]
    images = rows(ctx, owner)
    assert images["IMG_0001.jpg"].albums == ["Urlaub"]
    assert images["IMG_0002.jpg"].albums == []  # a year folder is no album


def test_trashed_items_come_in_when_asked(tmp_path: Path) -> None:
    runtime = build_runtime(make_settings(tmp_path / "d", DUPFINDER_TAKEOUT_INCLUDE_TRASHED=True))
    runtime.close()
    ctx = dataclasses.replace(runtime.ctx, jobs=Recorder())
    owner = new_owner(ctx)
    archive = make_zip(
        tmp_path / "t.zip",
        {
            f"{Y}/IMG_0007.jpg": img.jpeg(7),
            f"{Y}/IMG_0007.jpg.json": sidecar("IMG_0007.jpg", url=URL.format(7), trashed=True),
        },
    )
    _, report = run(ctx, owner, [archive])
    assert report.new == 1 and not report.skipped  # type: ignore[attr-defined]
    runtime.engine.dispose()


def test_an_uploaded_export_whose_message_was_lost_is_sent_again(
    ctx: AppContext, tmp_path: Path
) -> None:
    owner = new_owner(ctx, "p248@example.com")
    staged = ctx.settings.takeout_folder / ".incoming-test"
    staged.mkdir(parents=True)
    make_zip(
        staged / "part-0001.zip",
        {f"{Y}/IMG_1.jpg": real_photo(0), f"{Y}/IMG_1.jpg.json": sidecar("IMG_1.jpg")},
    )
    with ctx.session(write=True) as session:
        job_id = queue_takeout(session, ctx.settings, owner, staged).id
    recorder = ctx.jobs
    assert isinstance(recorder, Recorder)
    assert recorder.sent == [(TAKEOUT_IMPORT, {"job_id": job_id})]
    assert resume_takeout_imports(ctx, stale_after=60) == 0  # it is not stalled yet
    assert resume_takeout_imports(ctx) == 1  # at start-up: every import not read yet
    assert job_id is not None
    run_takeout_import(ctx, job_id)
    run_takeout_import(ctx, job_id)  # a second delivery changes nothing
    assert [i.filename for i in rows(ctx, owner).values()] == ["IMG_1.jpg"]
    assert not (ctx.settings.takeout_folder / str(job_id)).exists()
    assert resume_takeout_imports(ctx) == 0
    # An upload cut off a day ago is forgotten; one arriving now is left alone.
    old, new = (
        ctx.settings.takeout_folder / ".incoming-old",
        ctx.settings.takeout_folder / ".incoming-new",
    )
    for staged in (old, new):
        staged.mkdir()
        (staged / "part-0001.zip").write_bytes(b"PK")
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    resume_takeout_imports(ctx)
    assert not old.exists() and new.exists()
    shutil.rmtree(new)

"""Hostile and broken archives: each refused with a clear reason, nothing already stored changed,
nothing extracted anywhere."""

from __future__ import annotations

import dataclasses
import io
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from backend.models import Image, Job, JobState
from backend.runtime import build_runtime
from backend.services.context import AppContext
from backend.services.ingestion.takeout import TakeoutReport, import_takeout, new_takeout_job
from tests.helpers import images as img
from tests.helpers.app import make_settings
from tests.helpers.jobs import Recorder, new_owner
from tests.helpers.takeout import make_tgz, make_zip, real_photo, sidecar

Y = "Takeout/Google Photos/Photos from 2020"
GOOD = {
    f"{Y}/IMG_1.jpg": real_photo(0),
    f"{Y}/IMG_1.jpg.json": sidecar("IMG_1.jpg", url="https://photos.google.com/photo/1"),
}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    """One database for the module (migrations cost seconds); each test its own person."""
    runtime = build_runtime(
        make_settings(
            tmp_path_factory.mktemp("data"),
            DUPFINDER_TAKEOUT_MAX_MEMBERS=50,
            DUPFINDER_TAKEOUT_MAX_UNPACKED_BYTES=64 * 1024**2,
        )
    )
    runtime.close()
    yield dataclasses.replace(runtime.ctx, jobs=Recorder(runtime.engine))
    runtime.engine.dispose()


def run(ctx: AppContext, owner: int, paths: list[Path]) -> tuple[int, TakeoutReport]:
    with ctx.session(write=True) as session:
        job_id = new_takeout_job(session, owner).id
    assert job_id is not None
    return job_id, import_takeout(ctx, job_id, paths)


def state(ctx: AppContext, owner: int) -> tuple[list[tuple[str | None, list[str]]], list[str]]:
    with Session(ctx.engine) as session:
        rows = [
            (i.source_id, list(i.albums))
            for i in session.exec(select(Image).where(Image.owner_id == owner))
        ]
    files = sorted(str(p) for p in ctx.settings.blob_dir.rglob("*") if p.is_file())
    return rows, files


def tar_with(path: Path, kind: str) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in GOOD.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo(f"{Y}/evil.jpg")
        if kind == "symlink":
            evil.type, evil.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            evil.type, evil.linkname = tarfile.LNKTYPE, f"{Y}/IMG_1.jpg"
        elif kind == "device":
            evil.type, evil.devmajor, evil.devminor = tarfile.CHRTYPE, 1, 3
        elif kind == "fifo":
            evil.type = tarfile.FIFOTYPE
        tf.addfile(evil)
    return path


def zip_symlink(path: Path) -> Path:
    make_zip(path, GOOD)
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo(f"{Y}/link.jpg")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return path


def zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in GOOD.items():
            zf.writestr(name, data)
        zf.writestr(f"{Y}/zeros.jpg", bytes(40 * 1024 * 1024))  # ~40 KB packed
    return path


def tgz_bomb(path: Path) -> Path:
    return make_tgz(path, {**GOOD, f"{Y}/zeros.jpg": bytes(40 * 1024 * 1024)})


def truncated(maker: Callable[[Path, dict[str, bytes]], Path]) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        many = {f"{Y}/IMG_{n}.jpg": img.jpeg(n) for n in range(2, 8)}
        maker(path, {**GOOD, **many})
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])
        return path

    return make


HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "traversal.zip": (
        lambda p: make_zip(p, {**GOOD, "Takeout/../../etc/cron.d/evil.jpg": b"x"}),
        "path traversal",
    ),
    "absolute.zip": (lambda p: make_zip(p, {**GOOD, "/etc/evil.jpg": b"x"}), "absolute path"),
    "backslash.zip": (
        lambda p: make_zip(p, {**GOOD, "Takeout\\..\\..\\evil.jpg": b"x"}),
        "path traversal",
    ),
    "traversal.tgz": (lambda p: make_tgz(p, {**GOOD, "../evil.jpg": b"x"}), "path traversal"),
    "absolute.tgz": (lambda p: make_tgz(p, {**GOOD, "/tmp/evil.jpg": b"x"}), "absolute path"),
    "symlink.tgz": (lambda p: tar_with(p, "symlink"), "is a link"),
    "hardlink.tgz": (lambda p: tar_with(p, "hardlink"), "is a link"),
    "device.tgz": (lambda p: tar_with(p, "device"), "device or special file"),
    "fifo.tgz": (lambda p: tar_with(p, "fifo"), "device or special file"),
    "symlink.zip": (zip_symlink, "is a link or a device"),
    "bomb.zip": (zip_bomb, "zip bomb"),
    "bomb.tgz": (tgz_bomb, "zip bomb"),
    "many.zip": (
        lambda p: make_zip(p, {f"{Y}/f{n}.jpg": b"x" for n in range(60)}),
        "more than 50 members",
    ),
    "truncated.zip": (truncated(make_zip), "damaged or truncated"),
    "truncated.tgz": (truncated(make_tgz), "damaged or truncated"),
    "notes.zip": (lambda p: (p.write_text("not an archive at all"), p)[1], "is not a .zip"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_archive_is_refused_and_changes_nothing(
    ctx: AppContext, tmp_path: Path, name: str
) -> None:
    owner = new_owner(ctx, f"{name}@example.com")
    first = make_zip(
        tmp_path / "earlier.zip",
        {
            "Takeout/Google Photos/Album/IMG_9.jpg": real_photo(2),
            "Takeout/Google Photos/Album/IMG_9.jpg.json": sidecar(
                "IMG_9.jpg", url="https://photos.google.com/photo/9"
            ),
        },
    )
    run(ctx, owner, [first])
    before = state(ctx, owner)
    make, words = HOSTILE[name]
    # A good part given with it does not get in either: the export is refused as a whole.
    good = make_zip(tmp_path / "good-part.zip", {f"{Y}/IMG_5.jpg": real_photo(3)})
    job_id, report = run(ctx, owner, [good, make(tmp_path / name)])
    assert report.error is not None and words in report.error, report.error
    assert state(ctx, owner) == before
    with Session(ctx.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == JobState.FAILED
        assert job.message is not None and words in job.message
    assert not list(tmp_path.glob("evil*")) and not Path("/tmp/evil.jpg").exists()


def test_an_album_of_members_over_the_photo_limit_is_skipped_one_by_one(
    tmp_path: Path,
) -> None:
    runtime = build_runtime(make_settings(tmp_path / "d", DUPFINDER_MAX_UPLOAD_BYTES=20_000))
    runtime.close()
    ctx = dataclasses.replace(runtime.ctx, jobs=Recorder())
    owner = new_owner(ctx)
    big = img.noise_png(200)  # ~120 KB
    archive = make_zip(tmp_path / "a.zip", {**GOOD, f"{Y}/big.png": big})
    _, report = run(ctx, owner, [archive])
    assert report.error is None and report.new == 1
    assert [(n, "over the limit" in r) for n, r in report.skipped] == [(f"{Y}/big.png", True)]
    runtime.engine.dispose()

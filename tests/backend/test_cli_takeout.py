"""``dupfinder import-takeout --user EMAIL ARCHIVE...``: read here, analysed, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from backend.cli import main
from backend.models import Image, ImageState
from backend.runtime import build_runtime
from backend.services.users import register
from tests.helpers.app import make_settings
from tests.helpers.takeout import make_tgz, make_zip, real_photo, sidecar

Y = "Takeout/Google Photos/Photos from 2022"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_takeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    runtime = build_runtime(make_settings(data))
    with runtime.ctx.session(write=True) as session:
        register(session, "Cleo@example.com", "correct horse battery staple", "Cleo")
    runtime.close()
    parts = [
        make_zip(
            tmp_path / "takeout-001.zip",
            {
                f"{Y}/IMG_1.jpg": real_photo(0),
                f"{Y}/IMG_2.jpg": real_photo(1),
                f"{Y}/IMG_2.mov": b"\x00\x00\x00\x14ftypqt  ",
            },
        ),
        make_tgz(
            tmp_path / "takeout-002.tgz",
            {
                f"{Y}/IMG_1.jpg.json": sidecar("IMG_1.jpg", url="https://photos.google.com/p/1"),
                "Takeout/Google Photos/Trip/IMG_1.jpg": real_photo(0),
                "Takeout/Google Photos/Trip/IMG_1.jpg.json": sidecar(
                    "IMG_1.jpg", url="https://photos.google.com/p/1"
                ),
            },
        ),
    ]
    args = ["--data-dir", str(data), "import-takeout", "--user", "cleo@example.com"]
    code, out, err = run(capsys, *args, "-v", *map(str, parts))
    assert code == 0, err
    assert "2 photo(s): 2 new, 0 imported before; 1 file(s) skipped" in out
    assert f"skipped {Y}/IMG_2.mov: videos are not analysed" in out
    assert "analysing" in err  # the progress bar
    runtime = build_runtime(make_settings(data))
    with Session(runtime.engine) as session:
        images = session.exec(select(Image)).all()
    runtime.close()
    assert sorted((i.filename, i.state, tuple(i.albums)) for i in images) == [
        ("IMG_1.jpg", ImageState.READY, ("Trip",)),
        ("IMG_2.jpg", ImageState.READY, ()),
    ]

    code, out, _ = run(capsys, *args, "-q", *map(str, parts))
    assert code == 0 and "2 photo(s): 0 new, 2 imported before" in out
    evil = make_zip(tmp_path / "evil.zip", {"/etc/evil.jpg": real_photo(2)})
    code, out, _ = run(capsys, *args, "-q", str(evil))
    assert code == 1 and "nothing was imported" in out and "absolute path" in out
    code, _, err = run(capsys, *args[:-1], "nobody@example.com", "-q", str(evil))
    assert code == 2 and "no account" in err
    code, _, err = run(capsys, *args, "-q", str(tmp_path / "missing.zip"))
    assert code == 2 and "no such file" in err

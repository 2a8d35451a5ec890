"""A folder scan reads HEIC and AVIF like any photo and skips a Live Photo's video half."""

from __future__ import annotations

from pathlib import Path

from backend.runtime import build_runtime
from backend.services.scan import scan_folder
from tests.backend.core.test_decode_heic import avif, heic
from tests.helpers import images as img
from tests.helpers.app import make_settings


def test_heic_and_avif_in_a_folder_are_found_as_copies(tmp_path: Path) -> None:
    picture = img.photo(81, (640, 480))
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "IMG_0081.jpg").write_bytes(img.encode(picture))
    (folder / "IMG_0081.HEIC").write_bytes(heic(picture, quality=70))
    (folder / "IMG_0081.avif").write_bytes(avif(picture))
    (folder / "IMG_0081.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  live photo half")
    (folder / "other.heic").write_bytes(img.jpeg(82, (640, 480)))  # JPEG bytes, .heic name
    runtime = build_runtime(make_settings(tmp_path / "data"), embedded=True)
    try:
        report = scan_folder(runtime.ctx, runtime.embedded_worker(), str(folder))
    finally:
        runtime.close()
    assert report.skipped == [(str(folder / "IMG_0081.MOV"), "videos are not analysed")]
    groups = [sorted(Path(p).name for p in g.paths) for g in report.groups]
    assert groups == [["IMG_0081.HEIC", "IMG_0081.avif", "IMG_0081.jpg"]]

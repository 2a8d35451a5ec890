"""Capture facts from EXIF."""

from __future__ import annotations

from datetime import datetime

from PIL import Image

from backend.core.metadata import PhotoMetadata, read_metadata
from tests.helpers import images as img


def meta(data: bytes) -> PhotoMetadata:
    return read_metadata(img.decoded(data))


def test_camera_jpeg() -> None:
    m = meta(img.camera_jpeg(1, (64, 48)))
    assert m.taken_at == datetime(2021, 6, 1, 12, 34, 56)
    assert (m.camera_make, m.camera_model) == ("Canon", "EOS 5D")
    assert m.exif_fields >= 3


def test_no_exif() -> None:
    assert meta(img.jpeg(1, (64, 48))) == PhotoMetadata()


def test_fallback_to_datetime_and_messy_text() -> None:
    exif = Image.Exif()
    exif[0x0132] = "2019-02-03 04:05:06"
    exif[0x010F] = "  Nikon\x00\x00 "
    exif[0x0110] = ""
    m = meta(img.encode(img.photo(1, (64, 48)), exif=exif))
    assert m.taken_at == datetime(2019, 2, 3, 4, 5, 6)
    assert m.camera_make == "Nikon" and m.camera_model is None


def test_unparseable_date_is_ignored() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "sometime in june"
    exif.get_ifd(0x8769)[0x9004] = "2018:07:08 09:10"
    m = meta(img.encode(img.photo(1, (64, 48)), exif=exif))
    assert m.taken_at == datetime(2018, 7, 8, 9, 10)


def test_png_without_exif() -> None:
    assert meta(img.lossless_png(img.jpeg(1, (64, 48)))).taken_at is None


def test_what_tells_two_shots_apart() -> None:
    exif = img.camera_exif()
    sub = exif.get_ifd(0x8769)
    sub[0x9291] = "04"  # SubSecTimeOriginal: 40 ms
    sub[0xA420] = "7f3a9c00d1e24b55"  # ImageUniqueID
    sub[0x9211] = 18234  # ImageNumber
    m = meta(img.encode(img.photo(1, (64, 48)), exif=exif))
    assert (m.taken_subsec, m.unique_id, m.shutter_count) == (40, "7f3a9c00d1e24b55", 18234)


def test_capture_milliseconds_only_with_date_time_original() -> None:
    exif = img.camera_exif()
    assert meta(img.encode(img.photo(1, (64, 48)), exif=exif)).taken_subsec == 0
    plain = Image.Exif()
    plain[0x0132] = "2019-02-03 04:05:06"  # DateTime: when the file was written, not taken
    plain.get_ifd(0x8769)[0xA420] = "0" * 32  # an unset unique id
    m = meta(img.encode(img.photo(1, (64, 48)), exif=plain))
    assert (m.taken_subsec, m.unique_id) == (None, None)

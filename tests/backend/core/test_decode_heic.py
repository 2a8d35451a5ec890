"""HEIC/HEIF and AVIF read like any photo (upright), JPEG bytes named .heic read by content,
and videos skipped with a reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from backend.core.decode import VIDEO_REASON, DecodeLimits, decode_full, decode_reduced, probe
from backend.core.features import extract_features
from backend.core.rejected import ImageRejected
from tests.helpers import images as img

LIMITS = DecodeLimits()


def heic(im: Image.Image, orientation: int | None = None, quality: int = 90) -> bytes:
    """A real HEIC file written by libheif (pillow-heif's encoder)."""
    buf = io.BytesIO()
    params: dict[str, object] = {"quality": quality}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    im.save(buf, "HEIF", **params)
    return buf.getvalue()


def avif(im: Image.Image, orientation: int | None = None) -> bytes:
    buf = io.BytesIO()
    params: dict[str, object] = {"quality": 90}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    im.save(buf, "AVIF", **params)
    return buf.getvalue()


def close(a: Image.Image, b: Image.Image) -> bool:
    x = np.asarray(a.convert("RGB"), dtype=np.int16)
    y = np.asarray(b.convert("RGB"), dtype=np.int16)
    return x.shape == y.shape and float(np.abs(x - y).mean()) < 12


@pytest.mark.parametrize("name", ["IMG_0001.HEIC", "photo.heif", "x.hif", None])
def test_heic_is_probed_and_decoded(name: str | None) -> None:
    picture = img.photo(1, (320, 240))
    data = heic(picture)
    header = probe(data, name, LIMITS)
    assert (header.format, header.width, header.height) == ("HEIF", 320, 240)
    assert close(decode_full(data), picture)


def test_avif_is_probed_and_decoded() -> None:
    picture = img.photo(2, (320, 240))
    data = avif(picture)
    header = probe(data, "IMG.avif", LIMITS)
    assert (header.format, header.width, header.height) == ("AVIF", 320, 240)
    assert close(decode_full(data), picture)


@pytest.mark.parametrize("encoder", [heic, avif])
def test_orientation_is_applied_once(encoder: object) -> None:
    picture = img.photo(3, (320, 240))
    data = encoder(picture, orientation=6)  # type: ignore[operator]
    upright = picture.transpose(Image.Transpose.ROTATE_270)
    header = probe(data, None, LIMITS)
    assert (header.width, header.height) == (240, 320)
    assert close(decode_full(data), upright)
    _, small = decode_reduced(data, 64)
    assert small.size[0] < small.size[1]


def test_jpeg_bytes_named_heic_are_read_by_content() -> None:
    data = img.jpeg(4)
    assert probe(data, "IMG_1234.HEIC", LIMITS).format == "JPEG"
    assert probe(data, "IMG_1234.heif", LIMITS).format == "JPEG"
    # Other mismatches are still a renamed file.
    with pytest.raises(ImageRejected, match="ends in .png"):
        probe(data, "IMG_1234.png", LIMITS)


@pytest.mark.parametrize("name", ["IMG_0001.MOV", "clip.mp4", "PXL_2023.MP.mp4", "v.3gp"])
def test_videos_are_skipped_with_a_reason(name: str) -> None:
    with pytest.raises(ImageRejected) as info:
        probe(b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00", name, LIMITS)
    assert info.value.reason == VIDEO_REASON


def test_heic_features_match_its_jpeg() -> None:
    picture = img.photo(5, (480, 360))
    a = extract_features(img.encode(picture), "a.jpg", LIMITS)
    b = extract_features(heic(picture, quality=80), "a.heic", LIMITS)
    assert b.format == "HEIF"
    assert bin(a.phash ^ b.phash).count("1") <= 6

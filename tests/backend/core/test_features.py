"""One pass over an image's bytes: hashes, size, greyscale, metadata and thumbnail."""

from __future__ import annotations

import pytest

from backend.core.decode import DecodeLimits
from backend.core.features import THUMBNAIL_SIDE, extract_features, pixel_digest, sha256_hex
from backend.core.rejected import ImageRejected
from tests.helpers import images as img

LIMITS = DecodeLimits()


def test_features_of_a_camera_jpeg() -> None:
    data = img.camera_jpeg(1, (640, 480))
    f = extract_features(data, "IMG_1.jpg", LIMITS)
    assert (f.format, f.width, f.height, f.frames) == ("JPEG", 640, 480, 1)
    assert f.sha256 == sha256_hex(data) and len(f.sha256) == 64
    assert f.phash == f.phash_variants[0] and len(f.phash_variants) == 8
    assert not f.is_greyscale and f.metadata.camera_model == "EOS 5D"
    thumb = img.decoded(f.thumbnail_jpeg)
    assert thumb.format == "JPEG" and max(thumb.size) == THUMBNAIL_SIDE


def test_greyscale_detected() -> None:
    f = extract_features(img.greyscaled(img.jpeg(1)), "grey.jpg", LIMITS)
    assert f.is_greyscale


def test_rejects_with_reason() -> None:
    with pytest.raises(ImageRejected, match="truncated"):
        extract_features(img.truncated(img.jpeg(1)), "cut.jpg", LIMITS)
    with pytest.raises(ImageRejected, match="name ends in .png"):
        extract_features(img.jpeg(1), "x.png", LIMITS)


def test_pixel_digest_sees_through_the_container() -> None:
    original = img.jpeg(1)
    assert pixel_digest(original) == pixel_digest(img.lossless_png(original))
    assert pixel_digest(original) != pixel_digest(img.reencoded(original, 90))
    assert pixel_digest(original) != pixel_digest(img.flipped(original))

"""Untrusted bytes become upright pixels or a rejection a person can read."""

from __future__ import annotations

import pytest

from backend.core.decode import (
    DecodeLimits,
    decode_full,
    decode_reduced,
    normalise_mode,
    probe,
)
from backend.core.rejected import ImageRejected
from tests.helpers import images as img

LIMITS = DecodeLimits()


def rejection(
    data: bytes, filename: str | None = "photo.jpg", limits: DecodeLimits = LIMITS
) -> str:
    with pytest.raises(ImageRejected) as caught:
        probe(data, filename, limits)
    return caught.value.reason


class TestProbeRejects:
    def test_empty_file(self) -> None:
        assert "empty" in rejection(b"")

    def test_not_an_image(self) -> None:
        assert "not an image" in rejection(b"%PDF-1.4 hello, this is not a picture")

    def test_jpeg_bytes_named_png(self) -> None:
        reason = rejection(img.jpeg(1), "holiday.png")
        assert "JPEG" in reason and ".png" in reason

    def test_png_bytes_named_jpg(self) -> None:
        reason = rejection(img.lossless_png(img.jpeg(1)), "holiday.jpg")
        assert "PNG" in reason and ".jpg" in reason

    def test_decompression_bomb(self) -> None:
        assert "decompression bomb" in rejection(img.png_claiming(100_000, 100_000), "x.png")

    def test_side_over_max_side(self) -> None:
        reason = rejection(img.png_claiming(50_000, 10), "wide.png")
        assert "50000×10" in reason and "40000" in reason

    def test_over_pixel_limit(self) -> None:
        reason = rejection(img.png_claiming(5000, 5000), "x.png", DecodeLimits(max_pixels=10**6))
        assert "25 megapixels" in reason

    def test_over_size_limit(self) -> None:
        data = img.jpeg(1)
        reason = rejection(data, limits=DecodeLimits(max_bytes=len(data) - 1))
        assert "over the limit" in reason

    def test_unsupported_format(self) -> None:
        reason = rejection(img.encode(img.photo(1, (64, 64)), "ICO"), "favicon.ico")
        assert "not supported" in reason

    def test_rejection_is_a_value_error_with_reason(self) -> None:
        err = ImageRejected("because")
        assert isinstance(err, ValueError) and err.reason == str(err) == "because"


def test_photo_under_configured_pixel_limit_is_not_called_a_bomb() -> None:
    # 11648×8736 is a Fujifilm GFX100 frame: 101.8 MP, under the default limit of 150 MP.
    header = probe(img.png_claiming(11648, 8736), "gfx100.png", LIMITS)
    assert (header.width, header.height) == (11648, 8736)


class TestProbeAccepts:
    def test_plain_jpeg(self) -> None:
        header = probe(img.jpeg(1), "IMG_0001.JPG", LIMITS)
        assert (header.format, header.width, header.height, header.frames) == ("JPEG", 320, 240, 1)

    def test_unknown_extension_is_not_held_against_the_file(self) -> None:
        assert probe(img.jpeg(1), "photo.download", LIMITS).format == "JPEG"

    def test_no_filename(self) -> None:
        assert probe(img.jpeg(1), None, LIMITS).format == "JPEG"

    def test_truncated_jpeg_passes_the_header_check(self) -> None:
        # Only decoding finds the damage: see test_truncated_jpeg_fails_to_decode.
        assert probe(img.truncated(img.jpeg(1)), "cut.jpg", LIMITS).width == 320

    def test_animated_gif(self) -> None:
        header = probe(img.animated_gif(), "anim.gif", LIMITS)
        assert (header.format, header.frames) == ("GIF", 3)

    def test_cmyk_jpeg(self) -> None:
        assert probe(img.cmyk_jpeg(1), "print.jpg", LIMITS).format == "JPEG"

    def test_16_bit_png(self) -> None:
        assert img.decoded(img.png16(1)).mode == "I;16"
        assert probe(img.png16(1), "scan.png", LIMITS).format == "PNG"

    def test_exif_rotation_swaps_displayed_size(self) -> None:
        header = probe(img.camera_jpeg(1, (320, 240), orientation=6), "turned.jpg", LIMITS)
        assert (header.width, header.height, header.orientation) == (240, 320, 6)


@pytest.mark.parametrize("mode", ["P", "1", "I;16"])
def test_large_palette_bilevel_and_16_bit_images_decode_reduced(mode: str) -> None:
    size = (1200, 900)
    if mode == "I;16":
        data = img.png16(1, size)
    else:
        data = img.encode(img.photo(1, size).convert(mode), "PNG")
    _, im = decode_reduced(data, 256)
    assert im.mode == "RGB" and 256 <= max(im.size) < 1200


class TestDecode:
    def test_truncated_jpeg_fails_to_decode(self) -> None:
        with pytest.raises(ImageRejected, match="truncated or damaged"):
            decode_reduced(img.truncated(img.jpeg(1)), 64)

    def test_damaged_png_fails_to_decode(self) -> None:
        with pytest.raises(ImageRejected, match="truncated or damaged|damaged"):
            decode_full(img.png_claiming(300, 300))

    def test_not_an_image(self) -> None:
        with pytest.raises(ImageRejected, match="not an image"):
            decode_full(b"GIF89a but not really")

    def test_reduced_decode_is_small_but_not_too_small(self) -> None:
        header, im = decode_reduced(img.jpeg(1, (640, 480)), 100)
        assert (header.width, header.height) == (640, 480)
        assert 100 <= max(im.size) < 640 and im.mode == "RGB"
        assert abs(im.width / im.height - 4 / 3) < 0.05

    def test_small_image_is_never_upscaled(self) -> None:
        _, im = decode_reduced(img.jpeg(1, (200, 150)), 256)
        assert im.size == (200, 150)

    def test_png_is_reduced_too(self) -> None:
        _, im = decode_reduced(img.lossless_png(img.jpeg(1, (640, 480))), 100)
        assert 100 <= max(im.size) < 640

    def test_exif_rotated_jpeg_comes_out_upright(self) -> None:
        _, im = decode_reduced(img.camera_jpeg(1, (320, 240), orientation=6), 64)
        assert im.width < im.height
        assert decode_full(img.camera_jpeg(1, (320, 240), orientation=6)).size == (240, 320)

    def test_animated_gif_gives_first_frame(self) -> None:
        _, im = decode_reduced(img.animated_gif(seeds=(1, 2)), 256)
        first = img.photo(1, (200, 150)).convert("P").convert("RGB")
        assert im.mode == "RGB" and im.size == (200, 150)
        diff = sum(
            abs(a - b)
            for a, b in zip(im.getpixel((100, 75)), first.getpixel((100, 75)), strict=True)
        )
        assert diff < 40

    def test_cmyk_jpeg_becomes_rgb(self) -> None:
        assert decode_full(img.cmyk_jpeg(1)).mode == "RGB"

    def test_16_bit_png_becomes_8_bit(self) -> None:
        im = decode_full(img.png16(1))
        assert im.mode == "RGB"
        lo, hi = im.getchannel("R").getextrema()
        assert hi > 128 and lo < 128  # scaled from 16 bits, not clipped to white

    def test_transparency_is_kept_only_when_real(self) -> None:
        rgba = img.photo(1, (64, 64)).convert("RGBA")
        assert normalise_mode(rgba).mode == "RGB"
        rgba.putpixel((0, 0), (0, 0, 0, 0))
        assert normalise_mode(rgba).mode == "RGBA"

    def test_float_and_32_bit_modes(self) -> None:
        grey = img.photo(1, (64, 64)).convert("L")
        assert normalise_mode(grey.convert("I")).mode == "RGB"
        assert normalise_mode(grey.convert("F")).mode == "RGB"

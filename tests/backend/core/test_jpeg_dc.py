"""Progressive JPEGs decoded at 1/8 scale from their DC scans give the file's own pixels."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from backend.core.decode import dc_scan_source, decode_reduced, open_image
from backend.core.jpeg_dc import dc_scans_only
from backend.core.rejected import ImageRejected
from tests.helpers.photos import skimage_photo

SIDE = 256  # the hashes' and thumbnail's decode: 1/8 scale for pictures of 2048 px and more
SIZE = (2400, 1600)
SOS = re.compile(rb"\xff\xda")
MARKER_IN_DATA = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def progressive(mode: str = "RGB", **params: object) -> bytes:
    """A real photo enlarged to 2400 x 1600 (a phone photo's order of size), saved as a
    progressive JPEG."""
    im = skimage_photo("chelsea.png").resize(SIZE, Image.Resampling.BICUBIC).convert(mode)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=88, progressive=True, **params)
    return buf.getvalue()


def pillow_eighth(data: bytes) -> Image.Image:
    """The file decoded by Pillow itself at 1/8 scale."""
    im = Image.open(io.BytesIO(data))
    im.draft(im.mode, (SIZE[0] // 8, SIZE[1] // 8))
    return im.convert("RGB")


def scans(data: bytes) -> list[tuple[int, int, int]]:
    """Each scan's start, the end of its data, and its first coefficient (Ss)."""
    out = []
    for found in SOS.finditer(data):
        count = data[found.start() + 4]
        header_end = found.start() + 2 + int.from_bytes(data[found.start() + 2 :][:2], "big")
        end = MARKER_IN_DATA.search(data, header_end)
        assert end is not None
        out.append((found.start(), end.start(), data[found.start() + 5 + 2 * count]))
    return out


@pytest.mark.parametrize(
    ("mode", "params"),
    [
        ("RGB", {"subsampling": 0}),  # 4:4:4
        ("RGB", {"subsampling": 1}),  # 4:2:2
        ("RGB", {"subsampling": 2}),  # 4:2:0: the chroma's own AC scans are kept
        ("L", {}),
        ("RGB", {"subsampling": 2, "restart_marker_blocks": 3}),  # restart markers in scans
        ("RGB", {"subsampling": 2, "optimize": True}),  # a Huffman table per scan
    ],
)
def test_the_dc_scans_give_the_same_pixels_at_an_eighth(
    mode: str, params: dict[str, object]
) -> None:
    data = progressive(mode, **params)
    cut = dc_scans_only(data)
    assert cut is not None and len(cut) < len(data) // 2  # the AC scans are most of the file
    assert pillow_eighth(cut).tobytes() == pillow_eighth(data).tobytes()
    # What the scan decodes: the same pixels (its own conversions on top).
    picture = decode_reduced(data, SIDE)[1]
    assert picture.size == (300, 200)
    assert picture.convert("RGB").tobytes() == pillow_eighth(data).tobytes()


def test_the_cut_is_decoded_only_at_an_eighth() -> None:
    """At 1/4 scale the decoder reads AC coefficients: the file is decoded as it is."""
    data = progressive()
    im = open_image(data)
    im.draft(im.mode, (300, 200))
    assert dc_scan_source(im, data, SIZE) == dc_scans_only(data) is not None
    im = open_image(data)
    im.draft(im.mode, (600, 400))  # 1/4
    assert dc_scan_source(im, data, SIZE) is None
    baseline = io.BytesIO()
    skimage_photo("chelsea.png").resize(SIZE).save(baseline, "JPEG")
    im = open_image(baseline.getvalue())
    im.draft(im.mode, (300, 200))
    assert dc_scan_source(im, baseline.getvalue(), SIZE) is None


def test_only_progressive_huffman_jpegs_are_cut() -> None:
    photo = skimage_photo("coffee.png").resize((2048, 3072))
    for fmt in ("JPEG", "PNG", "WEBP"):
        buf = io.BytesIO()
        photo.save(buf, fmt)
        assert dc_scans_only(buf.getvalue()) is None, fmt  # baseline and other formats
    assert dc_scans_only(b"not a jpeg") is None


def test_a_truncated_stream_is_not_cut_and_still_refused() -> None:
    data = progressive()
    first, *_ = scans(data)
    dc_end = max(end for _, end, start in scans(data) if start == 0)
    inside_first = first[0] + (first[1] - first[0]) // 3
    for cut_at in (200, inside_first, dc_end, len(data) * 9 // 10, len(data) - 10):
        short = data[:cut_at]
        assert dc_scans_only(short) is None, cut_at
        with pytest.raises(ImageRejected):
            decode_reduced(short, SIDE)
    assert dc_scans_only(data[: data.index(b"\xff\xda")] + b"\xff\xda\x00\x02") is None


def test_a_file_that_never_sends_its_ac_coefficients_is_decoded_as_it_is() -> None:
    """libjpeg-turbo smooths the blocks of such a file: zero AC scans would change it."""
    data = progressive("L")
    kept, at = [], 0
    for begin, end, start in scans(data):
        kept.append(data[at:begin] if start else data[at:end])
        at = end
    dc_only = b"".join(kept) + data[at:]
    assert len(dc_only) < len(data) // 2
    assert dc_scans_only(dc_only) is None


def test_fill_bytes_before_a_marker_are_skipped() -> None:
    data = progressive()
    first = data.index(b"\xff\xda")
    filled = data[:first] + b"\xff" * 100_000 + data[first:]
    cut = dc_scans_only(filled)
    assert cut is not None
    assert pillow_eighth(cut).tobytes() == pillow_eighth(data).tobytes()

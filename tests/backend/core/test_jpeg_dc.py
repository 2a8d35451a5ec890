"""Progressive JPEGs decoded at 1/8 scale from their DC scans give the file's own pixels."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from backend.core import decode
from backend.core.jpeg_dc import dc_scans_only
from tests.helpers.photos import skimage_photo

SIDE = 256  # the hashes' and thumbnail's decode: 1/8 scale for pictures of 2048 px and more


def progressive(mode: str, **params: object) -> bytes:
    """A real photo enlarged to 2400 x 1600 (a phone photo's order of size), saved as a
    progressive JPEG."""
    im = skimage_photo("chelsea.png").resize((2400, 1600), Image.Resampling.BICUBIC).convert(mode)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=88, progressive=True, **params)
    return buf.getvalue()


def reduced(data: bytes, monkeypatch: pytest.MonkeyPatch, cut: bool) -> Image.Image:
    with monkeypatch.context() as m:
        if not cut:
            m.setattr(decode, "dc_scans_only", lambda data: None)
        return decode.decode_reduced(data, SIDE)[1]


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
    mode: str, params: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = progressive(mode, **params)
    cut = dc_scans_only(data)
    assert cut is not None and len(cut) < len(data) // 2  # the AC scans are most of the file
    whole, short = reduced(data, monkeypatch, cut=False), reduced(data, monkeypatch, cut=True)
    assert whole.size == short.size == (300, 200)
    assert whole.tobytes() == short.tobytes()


def test_only_progressive_huffman_jpegs_are_cut() -> None:
    photo = skimage_photo("coffee.png").resize((2048, 3072))
    for fmt, params in (("JPEG", {}), ("PNG", {}), ("WEBP", {})):
        buf = io.BytesIO()
        photo.save(buf, fmt, **params)
        assert dc_scans_only(buf.getvalue()) is None, fmt  # baseline and other formats


def test_a_truncated_or_damaged_stream_is_left_as_it_is() -> None:
    data = progressive("RGB")
    assert dc_scans_only(data[:200]) is None  # ends inside its headers
    # A segment length that runs past the end of the file.
    sof = data.index(b"\xff\xc2")
    damaged = data[: sof + 2] + b"\xff\xff" + data[sof + 4 :]
    assert dc_scans_only(damaged) is None
    assert dc_scans_only(b"not a jpeg") is None


def test_smaller_reductions_decode_the_whole_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 1/4 scale the decoder reads AC coefficients: the file is decoded as it is."""
    data = progressive("RGB", subsampling=2)
    called: list[bytes] = []
    monkeypatch.setattr(decode, "dc_scans_only", lambda d: called.append(d))
    decode.decode_reduced(data, 512)  # 2400 px to at least 512: 1/4 scale
    assert called == []
    decode.decode_reduced(data, SIDE)
    assert called == [data]

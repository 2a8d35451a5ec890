"""Turn untrusted image bytes into upright pixels, or a rejection a person can understand.

Everything here is pure: bytes in, PIL images or :class:`ImageRejected` out. Hashes only need
small pictures, so :func:`decode_reduced` lets libjpeg scale by 1/2, 1/4 or 1/8 while decoding
(DCT scaling) instead of decoding millions of pixels that would be thrown away.

Memory per picture is bounded: a decode first takes the bytes its pixels need from the
process's budget (``decode_budget.GATE``; a picture that alone needs more is refused), then
every conversion (16-bit, float, palette, transparency) and reduction runs in strips of rows,
so the only full-size buffer is the one the decoder fills. Nothing is ever decoded for a
header-only check (``probe``), not even a PNG whose EXIF comes after its pixel data.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from backend.core.decode_budget import GATE, pixel_bytes
from backend.core.jpeg_dc import dc_scans_only
from backend.core.rejected import ImageRejected

# HEIC/HEIF (iPhones, Google Photos) through libheif, registered once for every reader of
# images (uploads, folder scans, Takeout). libheif applies the file's own rotation and mirror
# while decoding and then reports orientation 1, so pictures come out upright exactly once.
# AVIF is Pillow's own (Pillow 11.3+, built with libavif).
pillow_heif.register_heif_opener()

# Formats a camera, phone or photo service produces; anything else is "not a photo we read".
EXTENSIONS: dict[str, frozenset[str]] = {
    "JPEG": frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    "MPO": frozenset({".jpg", ".jpeg", ".mpo"}),
    "PNG": frozenset({".png"}),
    "WEBP": frozenset({".webp"}),
    "GIF": frozenset({".gif"}),
    "BMP": frozenset({".bmp", ".dib"}),
    "TIFF": frozenset({".tif", ".tiff"}),
    "HEIF": frozenset({".heic", ".heif", ".hif"}),
    "AVIF": frozenset({".avif", ".avifs"}),
}
IMAGE_EXTENSIONS: frozenset[str] = frozenset().union(*EXTENSIONS.values())
# Phones and Google Photos name JPEG bytes ".heic" (a converted download, "most compatible"
# exports): such a file is read by its content, not refused as renamed.
_CONTENT_WINS = {".heic": {"JPEG", "MPO"}, ".heif": {"JPEG", "MPO"}, ".hif": {"JPEG", "MPO"}}
# The video half of a Live Photo / Motion Photo and other videos: skipped, never decoded.
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mov",
        ".mp4",
        ".m4v",
        ".3gp",
        ".3g2",
        ".avi",
        ".mkv",
        ".webm",
        ".mts",
        ".m2ts",
        ".mpg",
        ".mpeg",
        ".wmv",
        ".flv",
        ".mp",
    }
)
VIDEO_REASON = "videos are not analysed"
_FORMAT_NAMES = {"MPO": "JPEG"}
_TRANSPOSING = {5, 6, 7, 8}  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int = 100 * 1024 * 1024
    max_pixels: int = 150_000_000
    max_side: int = 40_000
    # Bytes the decoded pixels of one process may take at once (all threads together); one
    # picture that needs more is not decoded at full size. 512 MiB: 128 MP of colour, 256 MP
    # of 16-bit grey, 512 MP of 8-bit grey or palette.
    decode_budget: int = 512 * 1024 * 1024


@dataclass(frozen=True)
class ImageHeader:
    """What the file's header says, with width and height as the picture is displayed."""

    format: str
    width: int
    height: int
    orientation: int
    frames: int


def open_image(data: bytes) -> Image.Image:
    """The file opened lazily: its header read, none of its pixels."""
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89.5 MP; our own limit (``probe``) is the one that applies.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format == "PNG" and "exif" not in im.info:
                # Pillow decodes every pixel to find an eXIf chunk stored after them.
                im.info["exif"] = _png_exif(data)
            return im
    except Image.DecompressionBombError as exc:
        raise ImageRejected(
            "the image has too many pixels to open safely (a decompression bomb?)"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("the file is not an image we can read") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected(f"the file is not a readable image ({exc})") from exc


def _png_exif(data: bytes) -> bytes:
    """The PNG's eXIf chunk wherever it is, found by skipping from chunk to chunk."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"eXIf":
            return b"Exif\x00\x00" + data[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            break
        pos += 12 + length
    return b""


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not sink an otherwise good photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def is_video_name(filename: str | None) -> bool:
    return bool(filename) and os.path.splitext(filename or "")[1].lower() in VIDEO_EXTENSIONS


def probe(data: bytes, filename: str | None, limits: DecodeLimits) -> ImageHeader:
    """Check what can be checked from the header alone (cheap enough for an upload request)."""
    if is_video_name(filename):
        raise ImageRejected(VIDEO_REASON)
    if not data:
        raise ImageRejected("the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"the file is {_mib(len(data))}, over the limit of {_mib(limits.max_bytes)}"
        )
    im = open_image(data)
    fmt = im.format or ""
    if fmt not in EXTENSIONS:
        raise ImageRejected(
            f"{fmt or 'this'} files are not supported; send JPEG, PNG, WebP, GIF, BMP, TIFF, "
            "HEIC or AVIF"
        )
    if filename:
        ext = os.path.splitext(filename)[1].lower()
        if (
            ext in IMAGE_EXTENSIONS
            and ext not in EXTENSIONS[fmt]
            and fmt not in _CONTENT_WINS.get(ext, ())
        ):
            shown = _FORMAT_NAMES.get(fmt, fmt)
            raise ImageRejected(
                f"the file is a {shown} image but its name ends in {ext}; rename it and retry"
            )
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageRejected("the image has no pixels")
    if max(width, height) > limits.max_side:
        raise ImageRejected(
            f"the image is {width}×{height} pixels; no side may exceed {limits.max_side}"
        )
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"the image has {width * height / 1e6:.0f} megapixels, over the limit of "
            f"{limits.max_pixels / 1e6:.0f}"
        )
    orientation = _orientation(im)
    if orientation in _TRANSPOSING:
        width, height = height, width
    return ImageHeader(fmt, width, height, orientation, getattr(im, "n_frames", 1))


def _load(im: Image.Image) -> None:
    try:
        im.load()
    except OSError as exc:
        text = str(exc)
        if "truncated" in text or "broken data stream" in text or "premature end" in text:
            raise ImageRejected(
                "the file is truncated or damaged; its pixels cannot all be read"
            ) from exc
        raise ImageRejected(f"the image data is damaged ({text})") from exc
    except (ValueError, SyntaxError, MemoryError) as exc:
        raise ImageRejected(f"the image data is damaged ({exc})") from exc


# Modes held in more than 8 bits per sample: scaled to 8-bit grey.
_WIDE = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA = ("RGBA", "LA", "PA", "P", "RGBa", "La")
# Pixels converted at a time: a strip of a float picture as float64 is 8 MiB.
_STRIP_PIXELS = 1 << 20


# 16-bit samples to 8 bits, as ``np.clip(x * (255 / 65535), 0, 255)`` truncated gives them.
_SIXTEEN_BIT = np.clip(np.arange(65536, dtype=np.float64) * (255.0 / 65535.0), 0, 255).astype(
    np.uint8
)


@dataclass(frozen=True)
class _Plan:
    """What a picture becomes: "RGB" or "RGBA", and for wide modes the value that is white."""

    mode: str
    peak: float | None = None


def _plan(im: Image.Image) -> _Plan:
    """Decided on the whole picture (its range, its transparency) without copying it."""
    if im.mode in _WIDE:
        if im.mode.startswith("I;16"):
            return _Plan("RGB", 65535.0)
        high = im.getextrema()[1]
        return _Plan("RGB", 65535.0 if isinstance(high, int | float) and high > 255 else 255.0)
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        return _Plan("RGB" if _opaque(im) else "RGBA")
    if im.mode == "P" and "transparency" not in im.info and _palette_mode(im) == "RGB":
        return _Plan("RGB")  # a palette without alpha and no transparent index: opaque
    if im.mode in _ALPHA:  # palette: its transparency is known once converted, strip by strip
        opaque = all(_opaque(im.crop(box).convert("RGBA")) for box in _bands(im, 1))
        return _Plan("RGB" if opaque else "RGBA")
    return _Plan("RGB")


def _palette_mode(im: Image.Image) -> str | None:
    palette = im.palette
    return palette.mode if palette is not None else None


def _opaque(im: Image.Image) -> bool:
    """Whether the last band (alpha) is 255 everywhere; read in place, not copied."""
    alpha = im.getextrema()[-1]
    return isinstance(alpha, tuple) and alpha[0] == 255


def _bands(im: Image.Image, multiple: int) -> Iterator[tuple[int, int, int, int]]:
    """Boxes of whole rows covering the picture, their heights a multiple of ``multiple``."""
    width, height = im.size
    rows = max(1, _STRIP_PIXELS // max(1, width) // multiple) * multiple
    for top in range(0, height, rows):
        yield (0, top, width, min(height, top + rows))


def _converted(strip: Image.Image, plan: _Plan, grey_ok: bool = False) -> Image.Image:
    """A strip in the plan's mode (the same steps, so the same values, as a whole picture);
    ``grey_ok``: a wide-mode strip may stay 8-bit grey (reduced first, made RGB after)."""
    if plan.peak is not None:
        if strip.mode.startswith("I;16"):  # a table of the same float arithmetic: faster
            grey = _SIXTEEN_BIT[np.asarray(strip)]
        else:
            arr = np.asarray(strip, dtype=np.float64)
            grey = np.clip(arr * (255.0 / plan.peak), 0, 255).astype(np.uint8)
        out = Image.fromarray(grey)
        return out if grey_ok else out.convert("RGB")
    if strip.mode in _ALPHA:
        strip = strip.convert("RGBA")
    return strip if strip.mode == plan.mode else strip.convert(plan.mode)


def normalise_mode(im: Image.Image) -> Image.Image:
    """8-bit RGB (or RGBA where there is real transparency) from any mode Pillow reads,
    converted strip by strip: never a second full-size copy beyond the result."""
    plan = _plan(im)
    if im.mode == plan.mode:
        return im
    out = Image.new(plan.mode, im.size)
    for box in _bands(im, 1):
        out.paste(_converted(im.crop(box), plan), box[:2])
    return out


def _reduced(im: Image.Image, factor: int) -> Image.Image:
    """Normalised and shrunk by ``factor``, strip by strip (strips whole blocks of rows, so
    the result is the one a whole-picture ``reduce`` gives)."""
    if im.mode in ("RGB", "L"):
        # Reduced without a copy (RGBA would premultiply one); grey to RGB only repeats each
        # value, so reducing first gives the same pixels.
        return im.reduce(factor).convert("RGB")
    plan = _plan(im)
    width, height = im.size
    out = Image.new(plan.mode, (-(-width // factor), -(-height // factor)))
    for box in _bands(im, factor):
        part = _converted(im.crop(box), plan, grey_ok=True).reduce(factor)
        out.paste(
            part.convert(plan.mode) if part.mode != plan.mode else part, (0, box[1] // factor)
        )
    return out


def _budget_reason(im: Image.Image, need: int, limits: DecodeLimits) -> str:
    w, h = im.size
    return (
        f"the image is {w}×{h} pixels ({w * h / 1e6:.0f} megapixels, {im.mode}); decoding it "
        f"takes {_mib(need)}, over this server's limit of {_mib(limits.decode_budget)} "
        "for one picture"
    )


@contextmanager
def _decoded(im: Image.Image, limits: DecodeLimits) -> Iterator[Image.Image]:
    """The picture's pixels loaded, within the process's decode budget (waiting for room);
    released, and the memory handed back, when the block ends."""
    need = pixel_bytes(im.mode, im.size)
    if need > limits.decode_budget:
        raise ImageRejected(_budget_reason(im, need, limits))
    with GATE.hold(need, limits.decode_budget):
        try:
            _load(im)
            yield im
        finally:
            im.close()


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    """The picture as displayed: EXIF orientation applied (as ImageOps.exif_transpose does)."""
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def decode_reduced(
    data: bytes, long_side: int, limits: DecodeLimits | None = None
) -> tuple[ImageHeader, Image.Image]:
    """Upright 8-bit pixels whose longer side is at least ``long_side`` (never upscaled),
    decoding as few pixels as possible, within ``limits.decode_budget``."""
    im = open_image(data)
    header = ImageHeader(
        im.format or "", *_display_size(im), _orientation(im), getattr(im, "n_frames", 1)
    )
    w, h = im.size
    longest = max(w, h)
    if im.format in ("JPEG", "MPO") and longest >= 2 * long_side:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale (DCT scaling): far fewer pixels to make.
        # draft() keeps both sides at least the size asked for, so ask in proportion.
        asked = (max(1, w * long_side // longest), max(1, h * long_side // longest))
        im.draft(im.mode, asked)
        dc = dc_scan_source(im, data, (w, h))
        if dc is not None:  # at 1/8 scale a progressive file's AC scans are read for nothing
            im.close()
            im = open_image(dc)
            im.draft(im.mode, asked)
    with _decoded(im, limits or DecodeLimits()) as full:
        longest = max(full.size)
        if longest >= 2 * long_side:
            small = _reduced(full, longest // long_side)
        else:
            small = normalise_mode(full)
            small = small.copy() if small is full else small  # outlives the decoded file
    return header, _upright(small, header.orientation)


def dc_scan_source(im: Image.Image, data: bytes, size: tuple[int, int]) -> bytes | None:
    """What to decode ``im`` from, once its draft is set: where that draft reduces a
    progressive JPEG of ``size`` to 1/8, its DC scans alone (``jpeg_dc``); None for ``data``
    as it is."""
    w, h = size
    if im.format != "JPEG" or not im.info.get("progressive") or im.size != (-(-w // 8), -(-h // 8)):
        return None
    return dc_scans_only(data) if _libjpeg_turbo() else None


@functools.cache
def _libjpeg_turbo() -> bool:
    """jpeg_dc follows libjpeg-turbo's choice of each component's inverse DCT at 1/8 scale;
    IJG's libjpeg chooses otherwise, and there the file is decoded as it is."""
    from PIL import features

    return bool(features.check_feature("libjpeg_turbo"))


def decode_full(data: bytes, limits: DecodeLimits | None = None) -> Image.Image:
    """Every pixel, upright and mode-normalised, as one image (small pictures and tests;
    :func:`full_size_rows` reads a large one without a second full-size copy)."""
    im = open_image(data)
    orientation = _orientation(im)
    with _decoded(im, limits or DecodeLimits()) as full:
        picture = normalise_mode(full)
        picture = picture.copy() if picture is full else picture
    return _upright(picture, orientation)


@dataclass(frozen=True)
class UprightRows:
    """A decoded picture read as :func:`decode_full` would give it, a band of rows at a time."""

    mode: str
    width: int
    height: int
    chunks: Iterator[bytes]  # the upright picture's raw bytes, top to bottom


@contextmanager
def full_size_rows(data: bytes, limits: DecodeLimits | None = None) -> Iterator[UprightRows]:
    """The full-size pixels (within the decode budget), streamed upright in bands: each band
    of the upright picture is cut from the decoded one, converted and turned on its own."""
    im = open_image(data)
    orientation = _orientation(im)
    with _decoded(im, limits or DecodeLimits()) as full:
        plan = _plan(full)
        w, h = full.size
        turned = orientation in _TRANSPOSING
        width, height = (h, w) if turned else (w, h)
        yield UprightRows(plan.mode, width, height, _upright_bands(full, plan, orientation))


def _upright_bands(im: Image.Image, plan: _Plan, orientation: int) -> Iterator[bytes]:
    w, h = im.size
    if orientation == 1 and im.mode == plan.mode and im.mode in ("RGB", "RGBA"):
        # Already what is hashed (most photos): read straight from the decode, no band copied.
        yield from _raw(im, (0, 0, w, h))
        return
    turned = orientation in _TRANSPOSING
    height, width = (w, h) if turned else (h, w)
    rows = max(1, _STRIP_PIXELS // max(1, width))
    # Orientations whose first upright row comes from the source's last row or column.
    from_end = orientation in (3, 4, 7, 8)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        lo, hi = (height - bottom, height - top) if from_end else (top, bottom)
        box = (lo, 0, hi, h) if turned else (0, lo, w, hi)
        band = _upright(_converted(im.crop(box), plan), orientation)
        yield from _raw(band, (0, 0, *band.size))


def _raw(im: Image.Image, box: tuple[int, int, int, int]) -> Iterator[bytes]:
    """The rows of ``box`` as ``tobytes`` gives them, in pieces of about 64 KiB: each page of
    a new multi-megabyte buffer costs a page fault, and a scan hashes gigabytes."""
    encoder = Image._getencoder(im.mode, "raw", im.mode)
    try:
        encoder.setimage(im.im, box)
        size = max(65536, (box[2] - box[0]) * 4)  # at least a row, as tobytes asks
        while True:
            _, status, chunk = encoder.encode(size)
            yield chunk
            if status:
                break
        if status < 0:
            raise ImageRejected(f"the image data could not be read (raw encoder error {status})")
    finally:
        encoder.cleanup()


def _display_size(im: Image.Image) -> tuple[int, int]:
    w, h = im.size
    return (h, w) if _orientation(im) in _TRANSPOSING else (w, h)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"

"""Turn untrusted image bytes into upright pixels, or a rejection a person can understand.

Everything here is pure: bytes in, PIL images or :class:`ImageRejected` out. Hashes only need
small pictures, so :func:`decode_reduced` lets libjpeg scale by 1/2, 1/4 or 1/8 while decoding
(DCT scaling) instead of decoding millions of pixels that would be thrown away.
"""

from __future__ import annotations

import io
import os
import unicodedata
import warnings
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

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


class ImageRejected(ValueError):
    """A file that cannot be used, with the reason in words a person understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int = 100 * 1024 * 1024
    max_pixels: int = 150_000_000
    max_side: int = 40_000


@dataclass(frozen=True)
class ImageHeader:
    """What the file's header says, with width and height as the picture is displayed."""

    format: str
    width: int
    height: int
    orientation: int
    frames: int


def clean_filename(name: str) -> str:
    """The name to store for an uploaded file; a name that tries to be a path is refused."""
    name = unicodedata.normalize("NFC", name or "").strip()
    if not name:
        raise ImageRejected("the file has no name")
    if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ImageRejected("the file name contains a path; send the file's own name only")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ImageRejected("the file name contains control characters")
    if len(name.encode()) > 255:
        raise ImageRejected("the file name is longer than 255 bytes")
    return name


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89.5 MP; our own limit (``probe``) is the one that applies.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageRejected(
            "the image has too many pixels to open safely (a decompression bomb?)"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("the file is not an image we can read") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected(f"the file is not a readable image ({exc})") from exc


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
    im = _open(data)
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


def normalise_mode(im: Image.Image) -> Image.Image:
    """8-bit RGB (or RGBA where there is real transparency) from any mode Pillow reads."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        im = Image.fromarray(np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La"):
        im = im.convert("RGBA")
        if im.getchannel("A").getextrema()[0] == 255:
            return im.convert("RGB")
        return im
    if im.mode != "RGB":
        return im.convert("RGB")
    return im


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


def decode_reduced(data: bytes, long_side: int) -> tuple[ImageHeader, Image.Image]:
    """Upright 8-bit pixels whose longer side is at least ``long_side`` (never upscaled),
    decoding as few pixels as possible."""
    im = _open(data)
    header = ImageHeader(
        im.format or "", *_display_size(im), _orientation(im), getattr(im, "n_frames", 1)
    )
    w, h = im.size
    longest = max(w, h)
    if im.format in ("JPEG", "MPO") and longest >= 2 * long_side:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale (DCT scaling): far fewer pixels to make.
        # draft() keeps both sides at least the size asked for, so ask in proportion.
        im.draft(im.mode, (max(1, w * long_side // longest), max(1, h * long_side // longest)))
    _load(im)
    im = normalise_mode(im)  # reduce() takes only 8-bit modes (not P, 1 or I;16)
    longest = max(im.size)
    if longest >= 2 * long_side:
        im = im.reduce(longest // long_side)
    return header, _upright(im, header.orientation)


def decode_full(data: bytes) -> Image.Image:
    """Every pixel, upright and mode-normalised: what "identical pixels" is judged on."""
    im = _open(data)
    orientation = _orientation(im)
    _load(im)
    return _upright(normalise_mode(im), orientation)


def _display_size(im: Image.Image) -> tuple[int, int]:
    w, h = im.size
    return (h, w) if _orientation(im) in _TRANSPOSING else (w, h)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"

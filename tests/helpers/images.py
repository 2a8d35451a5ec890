"""Photo-like test pictures made with Pillow (seeded, small, robust to resizing)."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps


def photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A smooth random colour field with a few flat shapes: survives resizing and re-encoding,
    unlike pure noise, and two seeds give pictures far apart in hash space."""
    rng = np.random.default_rng(seed)
    w, h = size
    field = (rng.random((6, 8, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(field, "RGB").resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(5):
        x0, y0 = int(rng.integers(0, w * 3 // 4)), int(rng.integers(0, h * 3 // 4))
        x1 = x0 + int(rng.integers(w // 16, w // 2))
        y1 = y0 + int(rng.integers(h // 16, h // 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x0, y0, x1, y1], fill=colour)
    return im


def encode(im: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    if fmt == "JPEG":
        params.setdefault("quality", 92)
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(seed: int, size: tuple[int, int] = (320, 240), **params: object) -> bytes:
    return encode(photo(seed, size), "JPEG", **params)


def camera_exif(
    make: str = "Canon",
    model: str = "EOS 5D",
    taken: datetime = datetime(2021, 6, 1, 12, 34, 56),
    orientation: int | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    if orientation is not None:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    return exif


def camera_jpeg(
    seed: int, size: tuple[int, int] = (640, 480), orientation: int | None = None
) -> bytes:
    """A JPEG as a camera writes it: with capture date, make and model."""
    return encode(photo(seed, size), "JPEG", exif=camera_exif(orientation=orientation))


def decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


# Copies of one picture, as people make them.


def resized(data: bytes, scale: float = 0.5) -> bytes:
    im = decoded(data).convert("RGB")
    size = (round(im.width * scale), round(im.height * scale))
    return encode(im.resize(size, Image.Resampling.LANCZOS), quality=90)


def reencoded(data: bytes, quality: int = 30) -> bytes:
    return encode(decoded(data).convert("RGB"), quality=quality)


def flipped(data: bytes) -> bytes:
    return encode(ImageOps.mirror(decoded(data).convert("RGB")))


def rotated(data: bytes) -> bytes:
    return encode(decoded(data).convert("RGB").rotate(90, expand=True))


def greyscaled(data: bytes) -> bytes:
    return encode(ImageOps.grayscale(decoded(data)).convert("RGB"))


def brightened(data: bytes, factor: float = 1.15) -> bytes:
    return encode(ImageEnhance.Brightness(decoded(data).convert("RGB")).enhance(factor))


def bordered(data: bytes, width: int = 24, colour: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    return encode(ImageOps.expand(decoded(data).convert("RGB"), width, fill=colour))


def lossless_png(data: bytes) -> bytes:
    """The same pixels in a PNG file: an exact duplicate with different bytes."""
    return encode(decoded(data), "PNG")


# Files that are not usable photos.


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims ``width``×``height`` pixels (CRC fixed)."""
    data = encode(Image.new("L", (1, 1)), "PNG")
    body = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    ihdr = struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body))
    return data[:8] + ihdr + data[33:]


def animated_gif(seeds: tuple[int, ...] = (1, 2, 3), size: tuple[int, int] = (200, 150)) -> bytes:
    frames = [photo(s, size).convert("P") for s in seeds]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def cmyk_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    return encode(photo(seed, size).convert("CMYK"))


def png16(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    grey = np.asarray(photo(seed, size).convert("L"), dtype=np.uint16) * 257
    return encode(Image.fromarray(grey), "PNG")


def noise_png(side: int = 400, seed: int = 0) -> bytes:
    """Incompressible pixels: a big file from a small picture (for size limits only)."""
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)), "PNG")


def camera_batch(seed: int = 1) -> list[tuple[str, bytes]]:
    """An original camera photo, its exact and near copies, and one unrelated photo."""
    original = camera_jpeg(seed)
    return [
        ("original.jpg", original),
        ("copy.jpg", original),  # the same bytes
        ("lossless.png", lossless_png(original)),  # the same pixels
        ("small.jpg", resized(original)),
        ("q30.jpg", reencoded(original, 30)),
        ("mirror.jpg", flipped(original)),
        ("other.jpg", camera_jpeg(seed + 1000)),
    ]


EXACT_NAMES = {"original.jpg", "copy.jpg", "lossless.png"}
NEAR_NAMES = EXACT_NAMES | {"small.jpg", "q30.jpg", "mirror.jpg"}


def families(count: int, seed: int = 500) -> tuple[list[tuple[str, bytes]], list[set[str]]]:
    """``count`` distinct photos, each with a byte copy, a resized and a flipped copy: the
    files and the expected near groups (by file name). Each byte copy pair is an exact group."""
    files: list[tuple[str, bytes]] = []
    expected: list[set[str]] = []
    for n in range(count):
        original = jpeg(seed + n, (240, 180))
        family = {
            f"p{n}.jpg": original,
            f"p{n}-copy.jpg": original,
            f"p{n}-small.jpg": resized(original),
            f"p{n}-mirror.jpg": flipped(original),
        }
        files.extend(family.items())
        expected.append(set(family))
    return files, expected

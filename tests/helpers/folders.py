"""A photo folder on disk, as a person keeps one: nested, with copies and a few bad files."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import images as img

EXACT = ["2021/june/IMG_0001.jpg", "backup/IMG_0001 (copy).jpg", "export/IMG_0001.png"]
NEAR = EXACT + ["phone/small.jpg", "shared/IMG_0001-web.jpg"]
SKIPPED = ["2021/june/broken.jpg", "notes.txt"]
OTHERS = ["2021/july/lake.jpg", "2021/july/forest.jpg"]


def photo_folder(root: Path) -> Path:
    original = img.camera_jpeg(71)
    files = {
        EXACT[0]: original,
        EXACT[1]: original,
        EXACT[2]: img.lossless_png(original),
        NEAR[3]: img.resized(original),
        NEAR[4]: img.reencoded(original, 40),
        OTHERS[0]: img.jpeg(72),
        OTHERS[1]: img.jpeg(73),
        SKIPPED[0]: img.truncated(img.jpeg(74)),
        SKIPPED[1]: b"remember to back up the photos",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root

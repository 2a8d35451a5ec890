"""Facts from a photo's EXIF block: when it was taken and with what camera."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PIL import Image

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132
_MAKE = 0x010F
_MODEL = 0x0110


@dataclass(frozen=True)
class PhotoMetadata:
    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    exif_fields: int = 0  # how much EXIF survives: edited or re-exported copies usually lose it


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:120] or None


def _when(value: object) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
    return None


def read_metadata(im: Image.Image) -> PhotoMetadata:
    """Metadata of an opened (not necessarily loaded) image; broken EXIF gives empty metadata."""
    try:
        exif = im.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # malformed EXIF is common in the wild and never fatal
        return PhotoMetadata()
    taken = _when(sub.get(_DATETIME_ORIGINAL)) or _when(sub.get(_DATETIME_DIGITIZED))
    taken = taken or _when(exif.get(_DATETIME))
    return PhotoMetadata(
        taken_at=taken,
        camera_make=_text(exif.get(_MAKE)),
        camera_model=_text(exif.get(_MODEL)),
        exif_fields=len(exif) + len(sub),
    )

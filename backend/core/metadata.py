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
_SUBSEC_ORIGINAL = 0x9291
_IMAGE_NUMBER = 0x9211  # TIFF/EP ImageNumber: the shutter count where cameras write it
_IMAGE_UNIQUE_ID = 0xA420


@dataclass(frozen=True)
class PhotoMetadata:
    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    exif_fields: int = 0  # how much EXIF survives: edited or re-exported copies usually lose it
    # What tells two shots apart: copies keep or drop these, they do not change them.
    # Set only when the capture time is EXIF's DateTimeOriginal: its milliseconds
    # (SubSecTimeOriginal; 0 when the camera did not record them).
    taken_subsec: int | None = None
    unique_id: str | None = None  # ImageUniqueID
    shutter_count: int | None = None  # ImageNumber


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
    original = _when(sub.get(_DATETIME_ORIGINAL)) is not None
    subsec = (_subsec(sub.get(_SUBSEC_ORIGINAL)) or 0) if original else None
    unique = _text(sub.get(_IMAGE_UNIQUE_ID))
    number = sub.get(_IMAGE_NUMBER, exif.get(_IMAGE_NUMBER))
    return PhotoMetadata(
        taken_at=taken,
        camera_make=_text(exif.get(_MAKE)),
        camera_model=_text(exif.get(_MODEL)),
        exif_fields=len(exif) + len(sub),
        taken_subsec=subsec,
        unique_id=unique[:64] if unique and unique.strip("0") else None,  # zeros: unset
        shutter_count=number if isinstance(number, int) and number > 0 else None,
    )


def _subsec(value: object) -> int | None:
    """Milliseconds from SubSecTimeOriginal's digits ("04" is 40 ms, "123456" 123 ms)."""
    text = _text(value)
    if not text:
        return None
    digits = text.strip()
    if not digits.isdigit():
        return None
    return int((digits + "000")[:3])

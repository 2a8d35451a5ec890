"""Google Takeout's naming rules: which JSON sidecar belongs to which photo, and what it says.

Pure functions over names and parsed JSON, following the rules that immich-go and
GooglePhotosTakeoutHelper learned from real exports:

* a photo ``NAME`` has ``NAME.json`` or (exports since 2024) ``NAME.supplemental-metadata.json``;
  the whole sidecar name is capped at 51 characters, so the suffix is cut to any prefix
  (``.supplemental-metad.json``, ``.supp.json``, ``.s.json``, ``..json``) and photo names over 46
  characters are clipped in the sidecar's name (``NAME[:46].json``);
* the duplicate number of a second photo with the same name moves: ``IMG(1).jpg`` has
  ``IMG.jpg(1).json``, ``IMG(1).jpg.json`` or ``IMG.jpg.supplemental-metadata(1).json``;
* a sidecar may lack the photo's extension (``IMG.json`` for ``IMG.jpg``, or for ``IMG.mp4``);
* an edited copy (``IMG-edited.jpg``, localised ``-bearbeitet``, ``-modifié``…) shares its
  original's sidecar, or has none.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SUPPLEMENTAL = "supplemental-metadata"
SIDECAR_NAME_LIMIT = 51
# Suffixes Google adds to an edited copy, in the languages Takeout is exported in.
EDITED_SUFFIXES = (
    "-edited",
    "-effects",
    "-smile",
    "-mix",
    "-bearbeitet",  # de
    "-modifié",  # fr
    "-modifie",
    "-editado",  # es, pt
    "-modificato",  # it
    "-bewerkt",  # nl
    "-redigerad",  # sv
    "-muokattu",  # fi
    "-redigeret",  # da
    "-redigert",  # nb
    "-upravené",  # sk
    "-upraveno",  # cs
    "-edytowane",  # pl
    "-szerkesztett",  # hu
    "-düzenlendi",  # tr
    "- редактированный",  # ru
    "-編集済み",  # ja
    "-편집됨",  # ko
    "-已修改",  # zh
)
# Top folders of the Google Photos part of an export, by export language.
PHOTOS_FOLDERS = frozenset(
    {
        "google photos",
        "google fotos",
        "google foto",
        "google photo",
        "google zdjęcia",
        "google фото",
        "google 相册",
        "google 相簿",
        "google フォト",
        "google 포토",
    }
)
# Year folders ("Photos from 2019", "Fotos von 2019", "Photos de 2019"…): not albums.
_YEAR_FOLDER = re.compile(r"^\D{0,40}\b(18|19|20)\d\d$")
_DUP_AT_END = re.compile(r"^(?P<name>.+?)\((?P<n>\d{1,4})\)$")
_DUP_BEFORE_EXT = re.compile(r"^(?P<stem>.+?)\((?P<n>\d{1,4})\)(?P<ext>\.[^.()]{1,8})$")
_CLIPPED = 46 - 4  # a sidecar base this long or longer may be a clipped photo name
_MEDIA_CLIP = 46  # a photo name this long may have been clipped itself


def nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def split_ext(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


@dataclass(frozen=True)
class SidecarKey:
    """What a sidecar's name says about its photo: a name (maybe clipped, maybe without its
    extension) and the duplicate number (0 for none)."""

    base: str
    number: int


def sidecar_key(filename: str) -> SidecarKey | None:
    """The key of a ``*.json`` file name, or None when it is no JSON file."""
    name = nfc(filename)
    if not name.lower().endswith(".json") or len(name) <= 5:
        return None
    stem = name[:-5]
    number = 0
    found = _DUP_AT_END.match(stem)
    if found:
        stem, number = found["name"], int(found["n"])
    # The supplemental-metadata suffix, whole or cut to any prefix (even to the bare dot).
    dot = stem.rfind(".")
    if dot > 0:
        suffix = stem[dot + 1 :]
        if SUPPLEMENTAL.startswith(suffix.lower()) and (suffix or stem.endswith(".")):
            stem = stem[:dot]
            if not number:
                found = _DUP_AT_END.match(stem)  # IMG.jpg(1).supplemental-metadata.json
                if found:
                    stem, number = found["name"], int(found["n"])
    if not number:
        found = _DUP_BEFORE_EXT.match(stem)  # IMG(1).jpg.json
        if found:
            stem, number = found["stem"] + found["ext"], int(found["n"])
    if not stem:
        return None
    return SidecarKey(stem, number)


@dataclass(frozen=True)
class MediaName:
    """A photo's name as sidecars refer to it: without its duplicate number and edit suffix."""

    original: str  # the name without "(1)" and "-edited"
    number: int
    edited: str  # the edit suffix found ("" for an original)


def media_name(filename: str) -> MediaName:
    name = nfc(filename)
    number = 0
    found = _DUP_BEFORE_EXT.match(name)
    if found:
        name, number = found["stem"] + found["ext"], int(found["n"])
    stem, ext = split_ext(name)
    lowered = stem.lower()
    for suffix in EDITED_SUFFIXES:
        if lowered.endswith(suffix) and len(stem) > len(suffix):
            return MediaName(stem[: -len(suffix)] + ext, number, suffix)
    return MediaName(name, number, "")


def _candidates(name: str) -> list[str]:
    """Sidecar bases that can stand for ``name``: itself, without its extension."""
    stem, ext = split_ext(name)
    return [name, stem] if ext else [name]


def match_sidecar(filename: str, sidecars: dict[SidecarKey, str]) -> str | None:
    """The sidecar (its file name, from ``sidecars``: key → name, all of one folder) that
    describes the photo ``filename``, or None."""
    exact = nfc(filename)
    media = media_name(filename)
    names = [(exact, 0)] if media.number or media.edited else []
    names.append((media.original, media.number))
    for name, number in names:
        for candidate in _candidates(name):
            found = sidecars.get(SidecarKey(candidate, number))
            if found is not None:
                return found
        best: tuple[int, str] | None = None
        for key, sidecar in sidecars.items():
            if key.number == number and _clipped_match(name, key.base):
                if best is None or len(key.base) > best[0]:
                    best = (len(key.base), sidecar)
        if best is not None:
            return best[1]
    return None


def _clipped_match(name: str, base: str) -> bool:
    """Long names clipped differently in the photo's and the sidecar's file names."""
    stem = split_ext(name)[0]
    if len(base) >= _CLIPPED and len(base) < len(name) and name.startswith(base):
        return True  # the sidecar's name holds only the start of the photo's
    if len(name) >= _MEDIA_CLIP and len(stem) >= _CLIPPED - 6 and base.startswith(stem):
        return True  # the photo's own name was clipped (to 47 characters, extension kept)
    # A few characters Google added to a long photo name ("…_P.jpg" for "…_.json").
    return len(base) >= _CLIPPED - 12 and stem.startswith(base) and len(stem) - len(base) < 10


def index_sidecars(names: Iterable[str]) -> dict[SidecarKey, str]:
    """Key → sidecar name for the JSON files of one folder (the first of any clash wins)."""
    index: dict[SidecarKey, str] = {}
    for name in sorted(names, key=len):  # the least clipped suffix first
        key = sidecar_key(name)
        if key is not None:
            index.setdefault(key, name)
    return index


def is_photos_folder(name: str) -> bool:
    return nfc(name).strip().casefold() in PHOTOS_FOLDERS


def is_year_folder(name: str) -> bool:
    return bool(_YEAR_FOLDER.match(nfc(name).strip()))


@dataclass(frozen=True)
class Sidecar:
    """What Google says about one item."""

    title: str | None = None
    description: str | None = None
    taken_at: datetime | None = None  # UTC, naive (as the image table stores times)
    latitude: float | None = None
    longitude: float | None = None
    url: str | None = None
    favorited: bool = False
    trashed: bool = False
    albums: tuple[str, ...] = field(default_factory=tuple)


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:limit] or None


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, dict):
        return None
    raw = value.get("timestamp")
    try:
        seconds = int(str(raw))
    except (TypeError, ValueError):
        return None
    if seconds <= 0 or seconds > 32_503_680_000:  # after the year 3000: nonsense
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _place(value: object) -> tuple[float, float] | None:
    if not isinstance(value, dict):
        return None
    lat, lon = value.get("latitude"), value.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    if lat == 0 and lon == 0:  # Google's "no place"
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def is_item_sidecar(data: object) -> bool:
    """A photo's sidecar (not an album's metadata.json or a print order)."""
    return isinstance(data, dict) and any(
        k in data for k in ("photoTakenTime", "creationTime", "geoData", "geoDataExif")
    )


def album_title(data: object) -> str | None:
    """The title in an album's own metadata.json (``{"title": …, "date": …}``), if it is one."""
    if isinstance(data, dict) and not is_item_sidecar(data):
        return _text(data.get("title"), 200)
    return None


def parse_sidecar(data: Any) -> Sidecar:
    """The facts of a photo's sidecar JSON; anything malformed is left out, never fatal."""
    if not isinstance(data, dict):
        return Sidecar()
    place = _place(data.get("geoDataExif")) or _place(data.get("geoData"))
    url = _text(data.get("url"), 2048)
    return Sidecar(
        title=_text(data.get("title"), 255),
        description=_text(data.get("description"), 2000),
        # creationTime is when it was uploaded, not taken: never a taken time.
        taken_at=_timestamp(data.get("photoTakenTime")),
        latitude=place[0] if place else None,
        longitude=place[1] if place else None,
        url=url if url and url.startswith("https://") else None,
        favorited=data.get("favorited") is True,
        trashed=data.get("trashed") is True,
    )

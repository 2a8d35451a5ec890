"""From what the grid shows to the items sent: pure functions over strings (tested alone)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from backend_scraper import selectors as sel

MONTHS = {m: n for n, m in enumerate(sel.MONTHS, 1)}


@dataclass(frozen=True)
class FoundPhoto:
    source_id: str
    url: str  # the full-size image address
    page_url: str  # the photo's own page: the link back
    filename: str | None = None
    taken_at: str | None = None  # ISO 8601, as the page shows it (the page's time zone)
    width: int | None = None
    height: int | None = None

    def as_item(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def photo_id(href: str) -> str | None:
    match = sel.PHOTO_ID.search(urlsplit(href).path)
    return match.group(1) if match else None


def full_size(url: str) -> str:
    """The original's address: the sizing suffix of the thumbnail's path replaced."""
    parts = urlsplit(url)
    path = sel.SIZE_SUFFIX.sub("", parts.path) + sel.FULL_SIZE
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def thumbnail_url(style: str, src: str) -> str | None:
    if style:
        match = sel.BACKGROUND_URL.search(style)
        if match and match.group(1):
            return match.group(1)
    return src or None


def taken_at(label: str) -> str | None:
    m = sel.LABEL_DATE.search(label)
    if not m:
        return None
    hour, minute, second = int(m["h"] or 0), int(m["m"] or 0), int(m["s"] or 0)
    if m["ampm"]:
        hour = hour % 12 + (12 if m["ampm"] == "PM" else 0)
    try:
        month = MONTHS[m["mon"]]
        return datetime(int(m["year"]), month, int(m["day"]), hour, minute, second).isoformat()
    except (KeyError, ValueError):
        return None


def dimensions(label: str) -> tuple[int | None, int | None]:
    m = sel.LABEL_DIMENSIONS.search(label)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def filename(label: str) -> str | None:
    for part in sel.LABEL_SEPARATOR.split(label):
        if sel.LABEL_FILENAME.fullmatch(part.strip()):
            return part.strip()
    return None


def found_photo(entry: dict[str, str], page_url: str) -> FoundPhoto | None:
    """One grid entry ({href, label, style, src}), or None without a usable id or image."""
    source_id = photo_id(entry.get("href", ""))
    image = thumbnail_url(entry.get("style", ""), entry.get("src", ""))
    if source_id is None or image is None:
        return None
    label = entry.get("label", "")
    width, height = dimensions(label)
    return FoundPhoto(
        source_id=source_id,
        url=full_size(urljoin(page_url, image)),
        page_url=urljoin(page_url, entry["href"]),
        filename=filename(label),
        taken_at=taken_at(label),
        width=width,
        height=height,
    )

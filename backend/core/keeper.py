"""Which copy in a group to keep, and why, in words a person can check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Higher is better for keeping: lossless and camera formats over re-encodes for the web.
FORMAT_RANK = {"TIFF": 4, "PNG": 4, "JPEG": 3, "MPO": 3, "WEBP": 2, "BMP": 2, "GIF": 1}


@dataclass(frozen=True)
class Candidate:
    id: int
    width: int
    height: int
    size_bytes: int
    format: str
    exif_fields: int = 0
    taken_at: datetime | None = None
    camera_model: str | None = None
    is_greyscale: bool = False


@dataclass(frozen=True)
class Suggestion:
    image_id: int
    reasons: list[str]


def _score(c: Candidate, identical: bool) -> tuple[int, ...]:
    has_capture_facts = int(c.taken_at is not None) + int(c.camera_model is not None)
    pixels, colour = c.width * c.height, int(not c.is_greyscale)
    if identical:
        # Same pixels everywhere: the copy with the camera's metadata, then the smallest file.
        return (pixels, colour, has_capture_facts, c.exif_fields, -c.size_bytes)
    return (
        pixels,
        colour,
        has_capture_facts,
        c.exif_fields,
        c.size_bytes,  # the same picture in more bytes: less compression damage
        FORMAT_RANK.get(c.format, 0),
    )


def suggest_keeper(candidates: list[Candidate], identical: bool = False) -> Suggestion:
    """``identical``: the candidates have the same pixels (an exact group)."""
    if not candidates:
        raise ValueError("a group has at least one image")
    # Ties go to the oldest upload (lowest id): usually the original.
    best = max(candidates, key=lambda c: (_score(c, identical), -c.id))
    others = [c for c in candidates if c.id != best.id]
    reasons: list[str] = []
    if not identical and others:
        if all(best.width * best.height > o.width * o.height for o in others):
            reasons.append(f"highest resolution ({best.width}×{best.height})")
        elif all(best.width * best.height >= o.width * o.height for o in others):
            reasons.append(f"full resolution ({best.width}×{best.height})")
    if not best.is_greyscale and any(o.is_greyscale for o in others):
        reasons.append("in colour")
    if best.camera_model or best.taken_at:
        facts = [f for f in (best.camera_model, best.taken_at and "capture date") if f]
        if any(o.exif_fields < best.exif_fields for o in others):
            reasons.append("richest metadata (" + ", ".join(str(f) for f in facts) + ")")
    if identical:
        if others and all(best.size_bytes < o.size_bytes for o in others):
            reasons.append("smallest file for the same pixels")
    else:
        if others and all(best.size_bytes > o.size_bytes for o in others):
            reasons.append("largest file (least compressed)")
        if any(FORMAT_RANK.get(o.format, 0) < FORMAT_RANK.get(best.format, 0) for o in others):
            reasons.append(f"better format ({best.format})")
    if not reasons:
        reasons.append("copies are equivalent; the earliest added is kept")
    return Suggestion(best.id, reasons)

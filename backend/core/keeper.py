"""Which copy in a group to keep, and why, in words a person can check.

The rules are applied in order (a setting, ``DUPFINDER_KEEPER_RULES``); the first rule that
tells two copies apart decides between them, and every rule on which the suggested copy beats
another is given as a reason:

- ``resolution``: more detail: more pixels, not counting blank canvas (a copy turned by a few
  degrees on an enlarged canvas, a border added: ``core.canvas``); within 3 % is the same,
  and then the picture that fills its canvas wins over one turned or framed on a larger one
  (an edit: resampled once more, and more bytes for it say nothing of its quality);
- ``colour``: in colour rather than greyscale;
- ``metadata``: the camera's capture facts and the most EXIF;
- ``format``: the format that loses least, the original's (RAW > HEIC/AVIF/PNG/TIFF and other
  lossless > JPEG > WebP > GIF), before file size: a bigger JPEG re-encode of a HEIC is not the
  better copy;
- ``size``: the same picture in more bytes (less compression damage); for identical pixels,
  the smaller file;
- ``oldest``: the earliest capture time;
- ``name``: a name without a copy marker: ``(1)``, ``copy``, ``-edited``...;
- ``file_time``: the earliest file time (after the name: copying a file resets its time).

For identical pixels (an exact group), resolution, colour and format cannot differ in what
they show, so only metadata, (smaller) size, oldest, name and file time count. Ties go to the copy
added first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# Higher is better for keeping: camera originals and lossless formats over re-encodes.
FORMAT_RANK = {
    "RAW": 6,
    "DNG": 6,
    "HEIF": 5,
    "HEIC": 5,
    "AVIF": 5,
    "TIFF": 5,
    "PNG": 5,
    "BMP": 4,
    "JPEG": 3,
    "MPO": 3,
    "WEBP": 2,
    "GIF": 1,
}
KeeperRule = Literal[
    "resolution", "colour", "metadata", "format", "size", "oldest", "name", "file_time"
]
# Metadata before format: a lossless re-save of a JPEG (a PNG copy) carries the JPEG's losses
# and usually none of the camera's facts, so the camera original wins; a HEIC and its JPEG
# export both keep the capture facts, and the format then decides.
RULES: tuple[KeeperRule, ...] = (
    "resolution",
    "colour",
    "metadata",
    "format",
    "size",
    "oldest",
    "name",
    "file_time",
)
DEFAULT_RULES = RULES
IDENTICAL_RULES = frozenset({"metadata", "size", "oldest", "name", "file_time"})

# "IMG_1234 (1).jpg", "IMG_1234-copy.jpg", "Copy of IMG_1234.jpg", "IMG_1234 - Copie.jpg",
# "IMG_1234-edited.jpg", "IMG_1234_kopie.jpg"
COPY_MARKER = re.compile(
    r"(\(\d+\)|\[\d+\]|(^|[\s_\-.])(copy|copie|kopie|kopia|copia)(\s*\d+)?($|[\s_\-.(])"
    r"|^copy of |[\s_\-]edited($|[\s_\-.(]))",
    re.IGNORECASE,
)


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
    filename: str = ""
    file_time: datetime | None = None  # the file's modification time, where known
    blank_share: float = 0.0  # of the canvas: blank corners or border, no detail


# Pictures within this share of the most detailed one count as the same resolution: a turned
# copy's content resampled, a border's edge, are a pixel here and there.
SAME_DETAIL = 0.97


# A canvas this much blank has blank corners or a border (a photograph's own corners: none).
BLANK_CANVAS = 0.02


def on_blank_canvas(c: Candidate) -> bool:
    return c.blank_share >= BLANK_CANVAS


def detail_pixels(c: Candidate) -> float:
    """The pixels that show the picture: the canvas less its blank corners or border."""
    return c.width * c.height * (1.0 - min(max(c.blank_share, 0.0), 1.0))


@dataclass(frozen=True)
class Suggestion:
    image_id: int
    reasons: list[str]


def has_copy_marker(filename: str) -> bool:
    stem = filename.rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return bool(COPY_MARKER.search(stem))


def _capture_facts(c: Candidate) -> int:
    return int(c.taken_at is not None) + int(c.camera_model is not None)


def _older(when: datetime | None) -> tuple[float]:
    # Older is better: a negated timestamp; unknown counts as newest.
    return (-when.timestamp() if when else float("-inf"),)


Key = Callable[[Candidate], tuple[float, ...]]


def _keys(identical: bool, candidates: Sequence[Candidate]) -> dict[str, Key]:
    most = max((detail_pixels(c) for c in candidates), default=0.0) or 1.0
    return {
        "resolution": lambda c: (
            min(detail_pixels(c) / most, SAME_DETAIL),
            int(not on_blank_canvas(c)),
        ),
        "colour": lambda c: (int(not c.is_greyscale),),
        "format": lambda c: (FORMAT_RANK.get(c.format.upper(), 0),),
        "metadata": lambda c: (_capture_facts(c), c.exif_fields),
        "size": lambda c: (-c.size_bytes if identical else c.size_bytes,),
        "oldest": lambda c: _older(c.taken_at),
        "name": lambda c: (int(not has_copy_marker(c.filename)),) if c.filename else (0,),
        "file_time": lambda c: _older(c.file_time),
    }


def _reason(rule: str, best: Candidate, others: list[Candidate], identical: bool) -> str | None:
    if rule == "resolution":
        most = detail_pixels(best)
        if all(most * SAME_DETAIL > detail_pixels(o) for o in others):
            return f"highest resolution ({best.width}×{best.height})"
        if not on_blank_canvas(best) and any(on_blank_canvas(o) for o in others):
            return (
                f"full resolution ({best.width}×{best.height}), filling its canvas (not turned "
                "or framed on a larger one)"
            )
        return f"full resolution ({best.width}×{best.height})"
    if rule == "colour":
        return "in colour"
    if rule == "format":
        return f"better format ({best.format})"
    if rule == "metadata":
        facts = [f for f in (best.camera_model, best.taken_at and "capture date") if f]
        detail = ", ".join(str(f) for f in facts) or f"{best.exif_fields} EXIF fields"
        return f"richest metadata ({detail})"
    if rule == "size":
        if identical:
            return "smallest file for the same pixels"
        return "largest file (least compressed)"
    if rule == "oldest" and best.taken_at:
        return f"taken first ({best.taken_at:%Y-%m-%d %H:%M:%S})"
    if rule == "file_time":
        return "oldest file"
    if rule == "name":
        return "name without a copy marker such as '(1)', 'copy' or '-edited'"
    return None


def suggest_keeper(
    candidates: list[Candidate], identical: bool = False, rules: Sequence[str] = DEFAULT_RULES
) -> Suggestion:
    """``identical``: the candidates have the same pixels (an exact group). ``rules``: the
    order in which the rules are applied (names from ``RULES``)."""
    if not candidates:
        raise ValueError("a group has at least one image")
    keys = _keys(identical, candidates)
    order = [r for r in rules if r in keys and (not identical or r in IDENTICAL_RULES)]

    def score(c: Candidate) -> tuple[tuple[float, ...], ...]:
        return tuple(keys[r](c) for r in order)

    # Ties go to the oldest upload (lowest id): usually the original.
    best = max(candidates, key=lambda c: (score(c), -c.id))
    others = [c for c in candidates if c.id != best.id]
    reasons: list[str] = []
    for rule in order:
        mine = keys[rule](best)
        values = [keys[rule](o) for o in others]
        if others and all(mine >= v for v in values) and any(mine > v for v in values):
            text = _reason(rule, best, others, identical)
            if text:
                reasons.append(text)
        elif rule == "resolution" and others and all(mine >= v for v in values):
            reasons.append(f"full resolution ({best.width}×{best.height})")
    if not reasons:
        reasons.append("copies are equivalent; the earliest added is kept")
    return Suggestion(best.id, reasons)

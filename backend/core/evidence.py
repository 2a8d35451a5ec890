"""What decides a pair's tier: the evidence about two images and the calibrated thresholds.

Pure and small on purpose: the rules below are what the documentation states, and the
benchmark calibrates the numbers (docs/models.md, bench/RESULTS.md).

- exact: the same bytes or the same decoded pixels;
- near (the same photograph, edited or re-encoded): perceptual hashes within the near
  distance in one of the eight flips and turns, or SSCD copy-detection similarity at or over
  its near threshold;
- similar (the same scene, another shot): CLIP similarity at or over its threshold, or, with
  no CLIP model, SSCD at a looser threshold; and never when the two shots show a different
  number of prominent people (a group photo and a portrait taken there are not "the same
  shot"; passers-by in the background do not count).

A pair that the copy signals call only similar (SSCD under its near threshold but at or over
``verify_copy``: a half crop, a heavy edit) is verified too, and is near when one transform
explains it as a copy: the geometry proves what the embedding only suggests.

Where the copy model is the only sign of a copy (the hashes are far apart) and verification
could not tell, the pair is not near: near is the tier whose extra copies go to the trash, and
two different flat pictures (blurred colour with a few shapes) score 0.68 by SSCD. It is judged
for the similar tier, for the person to look at.

A pair that would be near but is known to be two shots (geometric verification found parallax
or motion no single transform explains, or EXIF says two captures: different capture moments,
ImageUniqueIDs or shutter counts) is never near: it is judged for the similar tier, where it
belongs. So is a burst that no copy signal finds: the same camera, seconds apart, and pictures
alike by their hashes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from backend.core.grouping import Tier


@dataclass(frozen=True)
class Thresholds:
    near_distance: int  # perceptual-hash bits of 64
    near_copy: float  # SSCD cosine
    similar_copy: float | None  # SSCD cosine when no CLIP model serves the similar tier
    similar_semantic: float | None  # CLIP cosine
    check_people: bool = True
    # Bursts without a semantic model: the same camera at most this many seconds apart, and
    # hashes at most this many bits apart (None: no burst rule).
    burst_seconds: float | None = None
    burst_distance: int = 22
    # SSCD cosine at or over which a pair is verified even when under ``near_copy``, and is
    # near when verification finds it a copy (None: only would-be near pairs are verified).
    verify_copy: float | None = None


@dataclass(frozen=True)
class Evidence:
    identical: bool = False  # same SHA-256 or same decoded pixels
    hash_distance: int | None = None
    copy: float | None = None  # SSCD cosine similarity
    semantic: float | None = None  # CLIP cosine similarity
    people: tuple[int, int] | None = None  # persons detected in each, when both were analysed
    other_shot: bool = False  # verification or EXIF says two shots (see ``different_shots``)
    different: bool = False  # verification: not one picture at all (only an overlay in common)
    seconds_apart: float | None = None  # capture times by one camera, when both are known
    verified_copy: bool = False  # verification: one transform explains one as the other
    # Verification ran and could not tell (too little detail, or only the rescaling fallback
    # ran and it did not explain the picture): the copy model's score alone proves nothing.
    undecided: bool = False


def worth_verifying(e: Evidence, t: Thresholds) -> bool:
    """Whether geometric verification has a say: the pair would be near by its copy signals,
    or SSCD finds it close enough that a verified copy makes it near."""
    if e.identical:
        return False
    if (e.hash_distance is not None and e.hash_distance <= t.near_distance) or (
        e.copy is not None and e.copy >= t.near_copy
    ):
        return True
    return t.verify_copy is not None and e.copy is not None and e.copy >= t.verify_copy


def classify(e: Evidence, t: Thresholds) -> Tier | None:
    if e.identical:
        return Tier.EXACT
    near = not e.different and (
        (e.hash_distance is not None and e.hash_distance <= t.near_distance)
        or (e.copy is not None and e.copy >= t.near_copy and not e.undecided)
        or (e.verified_copy and worth_verifying(e, t))
    )
    if near and not e.other_shot:
        return Tier.NEAR
    burst = (
        t.burst_seconds is not None
        and e.seconds_apart is not None
        and e.seconds_apart <= t.burst_seconds
        and e.hash_distance is not None
        and e.hash_distance <= t.burst_distance
    )
    similar = (
        near
        or burst
        or (
            e.semantic is not None
            and t.similar_semantic is not None
            and e.semantic >= t.similar_semantic
        )
        or (
            t.similar_semantic is None
            and not e.different
            and e.copy is not None
            and t.similar_copy is not None
            and e.copy >= t.similar_copy
        )
    )
    if not similar:
        return None
    if t.check_people and e.people is not None and e.people[0] != e.people[1]:
        return None
    return Tier.SIMILAR


@dataclass(frozen=True)
class Capture:
    """What EXIF says about the moment a photo was taken."""

    taken_at: datetime | None = None
    subsec: int | None = None  # set only when taken_at is DateTimeOriginal: its milliseconds
    unique_id: str | None = None
    shutter_count: int | None = None
    camera: str | None = None  # make and model


def seconds_apart(a: Capture, b: Capture) -> float | None:
    """How far apart one camera took the two pictures, when EXIF says it for both."""
    if a.subsec is None or b.subsec is None or not a.camera or a.camera != b.camera:
        return None
    assert a.taken_at is not None and b.taken_at is not None
    delta = (a.taken_at - b.taken_at).total_seconds()
    if a.subsec and b.subsec:  # milliseconds only when both cameras wrote them
        delta += (a.subsec - b.subsec) / 1000
    return abs(delta)


def different_shots(a: Capture, b: Capture) -> str | None:
    """Why EXIF says these are two captures, in words; None when it does not say so. Copies
    keep or drop EXIF, they do not change it (a time-zone fix moves the time by whole quarter
    hours, which is not counted)."""
    if a.unique_id and b.unique_id and a.unique_id != b.unique_id:
        return "different image ids in EXIF"
    same_camera = bool(a.camera) and a.camera == b.camera
    if same_camera and a.shutter_count and b.shutter_count and a.shutter_count != b.shutter_count:
        low, high = sorted((a.shutter_count, b.shutter_count))
        return f"shutter counts {low} and {high}"
    delta = seconds_apart(a, b)
    if delta is None and a.subsec is not None and b.subsec is not None:
        assert a.taken_at is not None and b.taken_at is not None
        delta = abs((a.taken_at - b.taken_at).total_seconds())  # two cameras, or unnamed
    if delta and round(delta * 1000) % 900_000:
        return f"taken {_duration(delta)} apart"
    return None


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86_400:.0f} days"


# People who count for "the same shot": detected confidently and not tiny. Passers-by far in
# the background come and go between two frames of one burst; the subjects do not.
PERSON_MIN_CONFIDENCE = 0.5
PERSON_MIN_AREA = 0.01  # of the picture


def count_people(boxes: Iterable[tuple[float, float, float, float, float]]) -> int:
    """Prominent persons among (confidence, x0, y0, x1, y1) detections, boxes as fractions."""
    return sum(
        1
        for conf, x0, y0, x1, y1 in boxes
        if conf >= PERSON_MIN_CONFIDENCE and (x1 - x0) * (y1 - y0) >= PERSON_MIN_AREA
    )

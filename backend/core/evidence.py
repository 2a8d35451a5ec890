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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from backend.core.grouping import Tier


@dataclass(frozen=True)
class Thresholds:
    near_distance: int  # perceptual-hash bits of 64
    near_copy: float  # SSCD cosine
    similar_copy: float | None  # SSCD cosine when no CLIP model serves the similar tier
    similar_semantic: float | None  # CLIP cosine
    check_people: bool = True


@dataclass(frozen=True)
class Evidence:
    identical: bool = False  # same SHA-256 or same decoded pixels
    hash_distance: int | None = None
    copy: float | None = None  # SSCD cosine similarity
    semantic: float | None = None  # CLIP cosine similarity
    people: tuple[int, int] | None = None  # persons detected in each, when both were analysed


def classify(e: Evidence, t: Thresholds) -> Tier | None:
    if e.identical:
        return Tier.EXACT
    if e.hash_distance is not None and e.hash_distance <= t.near_distance:
        return Tier.NEAR
    if e.copy is not None and e.copy >= t.near_copy:
        return Tier.NEAR
    similar = (
        e.semantic is not None
        and t.similar_semantic is not None
        and e.semantic >= t.similar_semantic
    ) or (
        t.similar_semantic is None
        and e.copy is not None
        and t.similar_copy is not None
        and e.copy >= t.similar_copy
    )
    if not similar:
        return None
    if t.check_people and e.people is not None and e.people[0] != e.people[1]:
        return None
    return Tier.SIMILAR


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

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backend.core.evidence import (
    Capture,
    Evidence,
    Thresholds,
    classify,
    count_people,
    different_shots,
    seconds_apart,
    worth_verifying,
)
from backend.core.explain import explain_pair
from backend.core.grouping import Tier

WITH_CLIP = Thresholds(near_distance=8, near_copy=0.65, similar_copy=0.45, similar_semantic=0.9)
NO_CLIP = Thresholds(near_distance=8, near_copy=0.65, similar_copy=0.45, similar_semantic=None)
HASHES_ONLY = Thresholds(near_distance=8, near_copy=2.0, similar_copy=None, similar_semantic=None)


@pytest.mark.parametrize(
    ("evidence", "thresholds", "tier"),
    [
        (Evidence(identical=True, hash_distance=0), WITH_CLIP, Tier.EXACT),
        (Evidence(hash_distance=8), WITH_CLIP, Tier.NEAR),
        (Evidence(hash_distance=9, copy=0.64), WITH_CLIP, None),
        (Evidence(hash_distance=30, copy=0.65), WITH_CLIP, Tier.NEAR),
        # With CLIP, CLIP alone decides "similar"; SSCD's loose threshold is the fallback.
        (Evidence(hash_distance=30, copy=0.5, semantic=0.89), WITH_CLIP, None),
        (Evidence(hash_distance=30, copy=0.2, semantic=0.93), WITH_CLIP, Tier.SIMILAR),
        (Evidence(hash_distance=30, copy=0.5), NO_CLIP, Tier.SIMILAR),
        (Evidence(hash_distance=30, copy=0.44), NO_CLIP, None),
        (Evidence(hash_distance=30, copy=0.9), HASHES_ONLY, None),
        (Evidence(hash_distance=3), HASHES_ONLY, Tier.NEAR),
    ],
)
def test_tiers(evidence: Evidence, thresholds: Thresholds, tier: Tier | None) -> None:
    assert classify(evidence, thresholds) == tier


def test_people_count_vetoes_only_the_similar_tier() -> None:
    similar = Evidence(hash_distance=30, semantic=0.95, people=(1, 3))
    assert classify(similar, WITH_CLIP) is None
    assert classify(Evidence(hash_distance=30, semantic=0.95, people=(2, 2)), WITH_CLIP) == (
        Tier.SIMILAR
    )
    unchecked = Thresholds(0, 0.65, 0.45, 0.9, check_people=False)
    assert classify(similar, unchecked) == Tier.SIMILAR
    # A crop may cut a person out: copies stay near whatever the counts.
    assert classify(Evidence(hash_distance=30, copy=0.8, people=(1, 3)), WITH_CLIP) == Tier.NEAR


def test_explanations_name_the_evidence() -> None:
    assert explain_pair(Tier.EXACT, 0, None, None, []) == (
        "identical pictures (same file or same pixels)"
    )
    text = explain_pair(Tier.SIMILAR, 21, 0.41, 0.93, ["person", "dog"])
    assert text == (
        "perceptual hashes 21 of 64 bits apart; copy-detection similarity 0.41; "
        "CLIP similarity 0.93; both show person, dog"
    )


def test_only_prominent_people_count() -> None:
    subject = (0.9, 0.3, 0.2, 0.6, 0.9)  # large and sure
    passer_by = (0.9, 0.9, 0.5, 0.95, 0.6)  # 0.5% of the picture
    unsure = (0.4, 0.1, 0.1, 0.5, 0.9)
    assert count_people([subject, passer_by, unsure]) == 1
    assert count_people([]) == 0


# --- another shot is never near ------------------------------------------------------------

BURSTS = Thresholds(8, 0.65, 0.5, None, burst_seconds=10, burst_distance=22)


def test_other_shot_leaves_near_for_similar() -> None:
    assert classify(Evidence(hash_distance=4, other_shot=True), HASHES_ONLY) == Tier.SIMILAR
    assert classify(Evidence(hash_distance=30, copy=0.9, other_shot=True), NO_CLIP) == (
        Tier.SIMILAR
    )
    # ...and the people check applies there as to any similar pair.
    two_people = Evidence(hash_distance=4, other_shot=True, people=(1, 2))
    assert classify(two_people, HASHES_ONLY) is None
    # Identical pictures are exact whatever else is said.
    assert classify(Evidence(identical=True, other_shot=True), HASHES_ONLY) == Tier.EXACT


def test_different_pictures_leave_the_copy_tiers() -> None:
    overlay = Evidence(hash_distance=30, copy=0.8, different=True)
    assert classify(overlay, NO_CLIP) is None
    assert classify(Evidence(hash_distance=30, semantic=0.95, different=True), WITH_CLIP) == (
        Tier.SIMILAR
    )


def test_an_undecided_check_leaves_the_copy_model_alone_short_of_near() -> None:
    """Two different flat pictures score 0.68 by SSCD and verification cannot tell (too
    little detail): similar, for the person to look at, not near (whose copies go to the
    trash). Hashes within the near distance still say near, and a verified copy is near."""
    flat = Evidence(hash_distance=24, copy=0.68, undecided=True)
    assert classify(flat, NO_CLIP) == Tier.SIMILAR
    assert classify(Evidence(hash_distance=24, copy=0.68), NO_CLIP) == Tier.NEAR
    assert classify(Evidence(hash_distance=6, copy=0.68, undecided=True), NO_CLIP) == Tier.NEAR
    assert classify(Evidence(hash_distance=24, copy=0.95, verified_copy=True), NO_CLIP) == (
        Tier.NEAR
    )


def test_bursts_by_capture_time_and_hashes() -> None:
    burst = Evidence(hash_distance=18, seconds_apart=0.4)
    assert classify(burst, BURSTS) == Tier.SIMILAR
    assert classify(burst, HASHES_ONLY) is None  # no burst rule configured
    assert classify(Evidence(hash_distance=18, seconds_apart=40), BURSTS) is None
    assert classify(Evidence(hash_distance=30, seconds_apart=0.4), BURSTS) is None
    assert classify(Evidence(hash_distance=18), BURSTS) is None  # no capture times


T0 = datetime(2024, 5, 1, 10, 0, 0)


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        (Capture(T0, 0, camera="X"), Capture(T0, 0, camera="X"), None),
        (Capture(T0, 120, camera="X"), Capture(T0, 520, camera="X"), "taken 0.4 s apart"),
        (
            Capture(T0, 0, camera="X"),
            Capture(T0 + timedelta(seconds=3), 0, camera="X"),
            "taken 3 s apart",
        ),
        # A time-zone fix moves a copy's time by whole quarter hours: not another shot.
        (Capture(T0, 0, camera="X"), Capture(T0 + timedelta(hours=2), 0, camera="X"), None),
        # Milliseconds count only when both cameras wrote them.
        (Capture(T0, 0, camera="X"), Capture(T0, 250, camera="X"), None),
        (Capture(T0, unique_id="a1"), Capture(T0, unique_id="b2"), "different image ids in EXIF"),
        (
            Capture(shutter_count=1041, camera="X"),
            Capture(shutter_count=1042, camera="X"),
            "shutter counts 1041 and 1042",
        ),
        (Capture(shutter_count=1, camera="X"), Capture(shutter_count=2, camera="Y"), None),
        # A copy that lost its EXIF says nothing.
        (Capture(T0, 0, camera="X"), Capture(), None),
    ],
)
def test_different_shots(a: Capture, b: Capture, reason: str | None) -> None:
    assert different_shots(a, b) == reason
    assert different_shots(b, a) == reason


def test_seconds_apart_needs_one_camera() -> None:
    a = Capture(T0, 100, camera="Canon EOS 5D")
    assert seconds_apart(a, Capture(T0 + timedelta(seconds=2), 600, camera="Canon EOS 5D")) == 2.5
    assert seconds_apart(a, Capture(T0, 600, camera="Nikon D3")) is None
    assert seconds_apart(a, Capture(camera="Canon EOS 5D")) is None


# --- a verified copy among the pairs SSCD calls only similar ---------------------------------

VERIFYING = Thresholds(8, 0.65, 0.5, None, verify_copy=0.5)


def test_a_verified_copy_under_the_near_threshold_is_near() -> None:
    half_crop = Evidence(hash_distance=30, copy=0.55)
    assert worth_verifying(half_crop, VERIFYING)
    assert classify(half_crop, VERIFYING) == Tier.SIMILAR  # SSCD alone: only similar
    verified = Evidence(hash_distance=30, copy=0.55, verified_copy=True)
    assert classify(verified, VERIFYING) == Tier.NEAR
    # Not when SSCD is under the floor, nor when the pair is another shot after all.
    assert not worth_verifying(Evidence(hash_distance=30, copy=0.45), VERIFYING)
    assert classify(Evidence(hash_distance=30, copy=0.45, verified_copy=True), VERIFYING) is None
    other = Evidence(hash_distance=30, copy=0.55, verified_copy=True, other_shot=True)
    assert classify(other, VERIFYING) == Tier.SIMILAR
    # Without the setting, verification only ever looks at would-be near pairs.
    assert not worth_verifying(half_crop, NO_CLIP)
    assert worth_verifying(Evidence(hash_distance=8), NO_CLIP)
    assert not worth_verifying(Evidence(identical=True, hash_distance=0), VERIFYING)

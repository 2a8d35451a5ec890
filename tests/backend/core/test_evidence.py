from __future__ import annotations

import pytest

from backend.core.evidence import Evidence, Thresholds, classify, count_people
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

"""Which copy to keep, with reasons a person can check."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest

from backend.core.keeper import Candidate, suggest_keeper


def cand(
    id: int, w: int = 640, h: int = 480, size: int = 50_000, format: str = "JPEG", **kw: Any
) -> Candidate:
    return Candidate(id=id, width=w, height=h, size_bytes=size, format=format, **kw)


def test_highest_resolution_wins_over_everything_else() -> None:
    big = cand(2, 1280, 960, 40_000)
    small = cand(1, 640, 480, 90_000, format="PNG", camera_model="X100", exif_fields=30)
    choice = suggest_keeper([small, big])
    assert choice.image_id == 2
    assert any("highest resolution (1280×960)" in r for r in choice.reasons)


def test_colour_beats_greyscale() -> None:
    grey = cand(1, size=60_000, is_greyscale=True)
    colour = cand(2, size=40_000)
    choice = suggest_keeper([grey, colour])
    assert choice.image_id == 2 and "in colour" in choice.reasons


def test_metadata_then_size_then_format() -> None:
    plain = cand(1, size=60_000)
    taken = datetime(2020, 1, 1)
    camera = cand(2, size=50_000, camera_model="EOS 5D", taken_at=taken, exif_fields=12)
    choice = suggest_keeper([plain, camera])
    assert choice.image_id == 2
    assert any(r.startswith("richest metadata") and "EOS 5D" in r for r in choice.reasons)

    bigger = suggest_keeper([cand(1, size=10), cand(2, size=20)])
    assert bigger.image_id == 2 and "largest file (least compressed)" in bigger.reasons

    png = suggest_keeper([cand(1, format="WEBP"), cand(2, format="PNG")])
    assert png.image_id == 2 and "better format (PNG)" in png.reasons


def test_equivalent_copies_go_to_the_earliest() -> None:
    choice = suggest_keeper([cand(7), cand(3), cand(5)])
    assert choice.image_id == 3
    assert choice.reasons  # never empty
    assert any("full resolution" in r for r in choice.reasons)


def test_single_image_and_empty_group() -> None:
    alone = suggest_keeper([cand(1)])
    assert alone.reasons == ["copies are equivalent; the earliest added is kept"]
    with pytest.raises(ValueError):
        suggest_keeper([])


@pytest.mark.parametrize("seed", range(20))
def test_reasons_never_empty(seed: int) -> None:
    rng = random.Random(seed)
    group = [
        cand(
            i,
            rng.choice([320, 640]),
            rng.choice([240, 480]),
            rng.randint(1, 5) * 1000,
            format=rng.choice(["JPEG", "PNG", "WEBP", "GIF"]),
            is_greyscale=rng.random() < 0.3,
            exif_fields=rng.randint(0, 3),
        )
        for i in range(1, rng.randint(2, 5))
    ]
    choice = suggest_keeper(group)
    assert choice.image_id in {c.id for c in group} and choice.reasons


class TestIdenticalCopies:
    """An exact group: the same pixels, so the camera's metadata, then the smallest file."""

    def test_metadata_first(self) -> None:
        png = cand(1, size=200_000, format="PNG")
        camera = cand(2, size=30_000, camera_model="EOS 5D", exif_fields=12)
        choice = suggest_keeper([png, camera], identical=True)
        assert choice.image_id == 2
        assert not any("resolution" in r for r in choice.reasons)
        assert any(r.startswith("richest metadata") for r in choice.reasons)

    def test_smallest_file(self) -> None:
        choice = suggest_keeper([cand(1, size=90_000), cand(2, size=40_000)], identical=True)
        assert choice.image_id == 2 and choice.reasons == ["smallest file for the same pixels"]

    def test_equal_copies(self) -> None:
        choice = suggest_keeper([cand(4), cand(3)], identical=True)
        assert choice.image_id == 3
        assert choice.reasons == ["copies are equivalent; the earliest added is kept"]

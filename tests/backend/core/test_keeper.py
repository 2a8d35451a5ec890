"""Which copy to keep, with reasons a person can check."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest

from backend.core.keeper import Candidate, has_copy_marker, suggest_keeper


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


# --- prefer the original --------------------------------------------------------------------


def test_original_format_before_file_size() -> None:
    """A bigger JPEG re-encode of a HEIC is not the better copy."""
    heic = cand(1, 4032, 3024, 1_800_000, format="HEIF")
    jpeg = cand(2, 4032, 3024, 3_900_000, format="JPEG")
    choice = suggest_keeper([jpeg, heic])
    assert choice.image_id == 1
    assert "better format (HEIF)" in choice.reasons
    raw = suggest_keeper([cand(1, format="PNG"), cand(2, format="DNG")])
    assert raw.image_id == 2


@pytest.mark.parametrize(
    "names",
    [
        ["IMG_1234 (1).jpg", "IMG_1234-copy.jpg", "IMG_1234.jpg"],
        ["IMG_1234.jpg", "Copy of IMG_1234.jpg", "IMG_1234 - Copy (2).jpg"],
        ["IMG_1234-edited.jpg", "IMG_1234.jpg"],
    ],
)
def test_names_without_copy_markers(names: list[str]) -> None:
    group = [cand(i + 1, filename=n) for i, n in enumerate(names)]
    for identical in (True, False):
        choice = suggest_keeper(group, identical=identical)
        assert group[choice.image_id - 1].filename == "IMG_1234.jpg"
        assert any("copy marker" in r for r in choice.reasons)


@pytest.mark.parametrize(
    ("name", "marked"),
    [
        ("IMG_1234.jpg", False),
        ("copyright.jpg", False),
        ("IMG_1234 (1).jpg", True),
        ("IMG_1234-copy.jpg", True),
        ("IMG_1234 copy 2.jpg", True),
        ("Copy of IMG_1234.jpg", True),
        ("IMG_1234-edited.jpg", True),
        ("IMG_1234_edited(1).jpg", True),
    ],
)
def test_copy_markers(name: str, marked: bool) -> None:
    assert has_copy_marker(name) == marked


def test_oldest_capture_then_file_time() -> None:
    early, late = datetime(2020, 1, 1, 9), datetime(2020, 1, 1, 10)
    choice = suggest_keeper([cand(1, taken_at=late), cand(2, taken_at=early)])
    assert choice.image_id == 2 and "taken first (2020-01-01 09:00:00)" in choice.reasons
    filed = suggest_keeper([cand(1, file_time=late), cand(2, file_time=early)], identical=True)
    assert filed.image_id == 2 and "oldest file" in filed.reasons


def test_rule_order_is_a_setting() -> None:
    big_jpeg = cand(1, 1280, 960, 90_000)
    small_png = cand(2, 640, 480, 50_000, format="PNG")
    assert suggest_keeper([big_jpeg, small_png]).image_id == 1
    choice = suggest_keeper([big_jpeg, small_png], rules=["format", "resolution"])
    assert choice.image_id == 2
    assert choice.reasons == ["better format (PNG)"]


def test_every_winning_rule_is_a_reason() -> None:
    best = cand(
        1, 1280, 960, 90_000, format="PNG", camera_model="X100", exif_fields=20, filename="a.png"
    )
    worse = cand(2, 640, 480, 50_000, is_greyscale=True, filename="a (1).jpg")
    reasons = suggest_keeper([worse, best]).reasons
    assert [r.split(" ")[0] for r in reasons] == [
        "highest",
        "in",
        "richest",
        "better",
        "largest",
        "name",
    ]


def test_blank_canvas_is_no_detail_and_loses_a_tie() -> None:
    """A copy turned on a larger canvas (21 % of it blank corners) has about the original's
    detail: it neither wins on resolution nor, with more bytes, on file size."""
    original = cand(2, 640, 480, 80_000)
    turned = cand(1, 700, 555, 120_000, blank_share=0.21)
    choice = suggest_keeper([turned, original])
    assert choice.image_id == 2
    assert any("filling its canvas" in r for r in choice.reasons)
    # Counted as canvas, its pixels would have won.
    assert suggest_keeper([cand(1, 700, 555, 120_000), original]).image_id == 1
